import type { Logger } from 'pino';
import type { WorkerChannel } from './cluster/worker-channel.js';
import type { RampartConfig } from './config/rampart-config.js';
import type { LogLevelControl } from './observability/log-level.js';
import type { TelemetryRecorder } from './observability/telemetry.js';
import type { ShutdownRegistry } from './resilience/shutdown-registry.service.js';

/** What exists before Nest does: validated config, the root logger, the registry, the database URL. */
export interface Runtime {
  config: RampartConfig;
  logger: Logger;
  registry: ShutdownRegistry;
  databaseUrl: string;
  embedded: boolean;
  /** IPC to the cluster supervisor, or this process alone (WORKERS=1). */
  channel: WorkerChannel;
  /** This process's runtime log level (PUT /admin/api/log-level). */
  logLevel: LogLevelControl;
  /** This process's console history (buckets, recent warn/error lines). */
  telemetry: TelemetryRecorder;
}

export const RUNTIME = Symbol('RUNTIME');
