import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { SupervisorStatus } from '../cluster/protocol.js';
import { AppException, ErrorCode } from '../core/errors/index.js';
import { PoolManager } from '../database/pool-manager.js';
import { REDIS_CLIENT } from '../redis/redis.tokens.js';
import { BreakerService, MAIN_DB_BREAKER } from '../resilience/breaker.service.js';
import { RUNTIME, type Runtime } from '../runtime.js';
import { AuditLogService } from './audit-log.service.js';
import { WorkerControl } from './worker-control.js';

export interface Actor {
  id: number;
  username: string;
}

export interface RestartCommand {
  reason: string;
  acknowledgeOverride: boolean;
  actor: Actor;
  correlationId: string;
}

/** Operator actions and the status they are based on. Every action is audited before it acts. */
@Injectable()
export class AdminService {
  constructor(
    private readonly workers: WorkerControl,
    private readonly audit: AuditLogService,
    private readonly pool: PoolManager,
    @Inject(MAIN_DB_BREAKER) private readonly breaker: BreakerService,
    @Inject(REDIS_CLIENT) private readonly redis: Redis | null,
    @Inject(RUNTIME) private readonly runtime: Runtime,
  ) {}

  async systemStatus() {
    const supervisor = await this.workers.status();
    return {
      uptimeS: Math.round(process.uptime()),
      version: this.runtime.config.app.version,
      mode: supervisor.mode,
      workers: supervisor.workers,
      pools: { main: this.pool.stats() },
      breaker: this.breaker.snapshot(),
      redis: await this.redisStatus(),
      restartChurn: supervisor.churn,
      policy: supervisor.policy,
      rollout: supervisor.rollout,
    };
  }

  async workerStatus() {
    const s: SupervisorStatus = await this.workers.status();
    return {
      mode: s.mode,
      workers: s.workers,
      emptySlots: s.emptySlots,
      history: s.history,
      policy: s.policy,
      cooldownRemainingS: s.policy.cooldownRemainingS,
      nextAction: s.policy.nextAction,
      rollout: s.rollout,
    };
  }

  /**
   * Audited before acting and after: the request row is written first (if the database
   * cannot take it, nothing happens), the outcome row once the supervisor has answered.
   */
  async restart(command: RestartCommand): Promise<{ restartId: string; status: string }> {
    const status = await this.workers.status();
    const blocked = status.policy.state === 'blocked';
    const override = blocked && command.acknowledgeOverride;
    const restartId = randomUUID();
    const base = {
      actorId: command.actor.id,
      action: 'worker.restart',
      reason: command.reason,
      correlationId: command.correlationId,
    };
    if (blocked && !command.acknowledgeOverride) {
      await this.audit.append({ ...base, outcome: 'refused: RESTART_BLOCKED', details: { restartId, policy: status.policy } });
      throw new AppException(ErrorCode.RESTART_BLOCKED, `Restarts are blocked by the churn policy: ${status.policy.nextAction}`);
    }
    await this.audit.append({ ...base, outcome: override ? 'requested (override)' : 'requested', details: { restartId, override, policy: status.policy } });
    const result = await this.workers
      .requestRollingRestart({ reason: command.reason, restartId, acknowledgeOverride: command.acknowledgeOverride, requestedBy: command.actor.username })
      .catch(async (error: unknown) => {
        await this.audit.append({ ...base, outcome: 'failed: supervisor unavailable', details: { restartId } });
        throw error;
      });
    const accepted = result.status === 'running' || result.status === 'completed';
    await this.audit.append({
      ...base,
      outcome: accepted ? (result.alreadyRunning ? 'joined running rollout' : 'started') : `${result.status}: ${result.code ?? 'unknown'}`,
      details: { restartId: result.restartId, override: result.override, message: result.message },
    });
    // Refused by the supervisor: blocked by churn, no supervisor at all (WORKERS=1), or shutting
    // down. All are "this restart cannot happen now"; the message says which.
    if (!accepted) throw new AppException(ErrorCode.RESTART_BLOCKED, result.message ?? `Restart ${result.status}: ${result.code ?? 'refused'}`);
    return { restartId: result.restartId, status: 'running' };
  }

  private async redisStatus(): Promise<{ mode: 'redis' | 'memory'; status: string; latencyMs: number | null }> {
    if (!this.redis) return { mode: 'memory', status: 'single-instance', latencyMs: null };
    const started = performance.now();
    try {
      await this.redis.ping();
      return { mode: 'redis', status: 'up', latencyMs: Math.round((performance.now() - started) * 10) / 10 };
    } catch {
      return { mode: 'redis', status: 'down', latencyMs: null };
    }
  }
}
