// Entry point for the application: the primary side (Supervisor), the worker side
// (createWorkerChannel, trackHttpServer) and the shared protocol and policy types.
export { Supervisor, OPERATOR_ACTION } from './supervisor.js';
export type { SupervisorOptions, SupervisorLogger, ClusterPrimary, WorkerHandle, RolloutHandle, StopReport } from './supervisor.js';
export { createWorkerChannel, SupervisorRequestError } from './worker-channel.js';
export type { WorkerChannel, WorkerChannelOptions, ShutdownRequest, IpcPort } from './worker-channel.js';
export { trackHttpServer } from './http-drain.js';
export type { HttpDrainer, HttpDrainOptions, DrainResult } from './http-drain.js';
export { RestartPolicy, PLANNED_RESTART_KINDS, isPlanned } from './restart-policy.js';
export { StopSignalGate, SIGNAL_REPEAT_WINDOW_MS } from './stop-signals.js';
export type { StopSignalVerdict } from './stop-signals.js';
export type { RestartPolicyOptions, RestartRecord } from './restart-policy.js';
export { backoffCeilingMs, fullJitterDelayMs, CrashCounter } from './backoff.js';
export * from './protocol.js';
