import { Injectable } from '@nestjs/common';
import type { RollingRestartRequest, RolloutResult, SupervisorStatus } from '../cluster/protocol.js';
import { SupervisorRequestError, type WorkerChannel } from '../cluster/worker-channel.js';
import { AppException, ErrorCode } from '../core/errors/index.js';
import { WorkerControl } from './worker-control.js';

/** WorkerControl over the cluster channel; a primary that does not answer is a retryable 503. */
@Injectable()
export class ChannelWorkerControl extends WorkerControl {
  constructor(private readonly channel: WorkerChannel) {
    super();
  }

  status(): Promise<SupervisorStatus> {
    return this.channel.requestStatus().catch(unavailable);
  }

  requestRollingRestart(request: RollingRestartRequest): Promise<RolloutResult> {
    return this.channel.requestRollingRestart(request).catch(unavailable);
  }
}

function unavailable(error: unknown): never {
  if (error instanceof SupervisorRequestError) {
    throw new AppException(ErrorCode.SHUTTING_DOWN, `The supervisor did not answer (${error.code})`, {
      retryable: true,
      retryAfterMs: 2000,
      cause: error,
    });
  }
  throw error;
}
