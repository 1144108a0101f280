import type { RollingRestartRequest, RolloutResult, SupervisorStatus } from '../cluster/protocol.js';

/**
 * What the admin API and health need from the process model: the supervisor's view of the
 * workers and policy, and a way to ask for a rolling restart. Backed by the cluster
 * WorkerChannel (IPC to the primary, or this process alone with WORKERS=1).
 */
export abstract class WorkerControl {
  abstract status(): Promise<SupervisorStatus>;
  abstract requestRollingRestart(request: RollingRestartRequest): Promise<RolloutResult>;
}
