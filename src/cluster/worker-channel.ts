import cluster from 'node:cluster';
import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  parsePrimaryMessage,
  TELEMETRY_BUCKET_MS,
  WORKER_ENV,
  type LogLevelMessage,
  type LogLevelOverride,
  type RequestOp,
  type SetLogLevelRequest,
  type RollingRestartRequest,
  type RolloutResult,
  type SupervisorStatus,
  type TelemetryDelta,
  type TelemetryRequest,
  type TelemetryView,
} from './protocol.js';
import { RestartPolicy } from './restart-policy.js';

/**
 * The worker side of the cluster protocol, and the one interface the application (admin API,
 * health) talks to whether or not it runs under the supervisor:
 *
 * - `cluster` mode (a cluster worker with an IPC channel): ready/heartbeat messages go to the
 *   primary, `status` and `rollingRestart` are answered by the primary, which alone knows every
 *   worker and owns the churn policy.
 * - `single` mode (`WORKERS=1`, tests, a Kubernetes one-process pod): nothing is sent; status
 *   describes this process only and a rolling restart is refused with `NOT_CLUSTERED`, because
 *   one process cannot replace itself without dropping requests (that is the orchestrator's job).
 */

export interface ShutdownRequest {
  reason: string;
  /** The primary's kill deadline, in ms from now; finish draining well before it. */
  deadlineMs: number;
  /**
   * Set when the whole service stops (not a rolling restart): keep serving, readiness
   * `shutting_down`, for this long before closing the listener. See protocol.ts ShutdownMessage.
   */
  drainDelayMs?: number;
}

/** Where this process's console history comes from (see src/observability/telemetry.ts). */
export interface TelemetrySource {
  /** The newest buckets and the log lines not yet handed out; sent with each heartbeat. */
  delta(): TelemetryDelta;
  /** Everything kept (single mode answers the console from this). */
  full(): TelemetryDelta;
}

export interface WorkerChannel {
  readonly mode: 'cluster' | 'single';
  /** True once the primary asked this worker to drain. */
  readonly draining: boolean;
  /** Tells the primary the application is up; also starts the heartbeat if not yet running. */
  notifyReady(): void;
  /** Cluster mode: tells the primary this worker got a stop signal of its own and is draining. */
  notifyStopping(signal: string): void;
  /** Starts the lag monitor and (in cluster mode) the heartbeat; the timer is unref'd. */
  startHeartbeat(): void;
  /** Event-loop lag of the last completed interval, ms; null before the first one. */
  eventLoopLagMs(): number | null;
  /** Counts one received HTTP request (reported in heartbeats; WORKER_MAX_REQUESTS). */
  countRequest(): void;
  /**
   * Called synchronously, in registration order, when the primary asks for a drain. Close the
   * listener inside the callback (see http-drain.ts). Never fires in single mode, where the
   * application's own signal handling applies. Returns an unsubscribe function.
   */
  onShutdown(callback: (request: ShutdownRequest) => void): () => void;
  /** Rejects with SupervisorRequestError (SUPERVISOR_TIMEOUT / SUPERVISOR_UNAVAILABLE / ...). */
  requestStatus(): Promise<SupervisorStatus>;
  /**
   * Asks the primary to start a rolling restart and resolves as soon as it has been accepted or
   * refused (status `running` or `rejected`), not when it ends: the asking worker is itself
   * replaced during the rollout. Poll `requestStatus().rollout` for progress.
   */
  requestRollingRestart(request: RollingRestartRequest): Promise<RolloutResult>;
  /** Cluster mode: every worker's metrics aggregated by the primary (Prometheus text). */
  requestMetrics(): Promise<string>;
  /**
   * A temporary log level: cluster mode asks the primary, which tells every worker (this one
   * included, before it answers); single mode applies it here. Either way it reaches the
   * `onLogLevel` callbacks.
   */
  requestSetLogLevel(request: SetLogLevelRequest): Promise<LogLevelOverride>;
  /** Called with every runtime log level change for this process (level null = back to LOG_LEVEL). */
  onLogLevel(callback: (change: LogLevelMessage) => void): () => void;
  /** Feeds heartbeats (cluster) or the telemetry answer (single) with this process's history. */
  setTelemetrySource(source: TelemetrySource): void;
  /** Every worker's history of the last `minutes`, gathered by the primary; in single mode this process's own. */
  requestTelemetry(minutes: number): Promise<TelemetryView>;
  /** Stops timers and listeners; pending requests reject. */
  close(): void;
}

export class SupervisorRequestError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'SupervisorRequestError';
    this.code = code;
  }
}

/** The IPC channel to the primary, injectable so the channel is testable without a cluster. */
export interface IpcPort {
  connected(): boolean;
  send(message: unknown): void;
  onMessage(listener: (message: unknown) => void): () => void;
  onDisconnect(listener: () => void): () => void;
}

export interface WorkerChannelOptions {
  /** Forces cluster mode over the given port (tests). Default: process IPC when a cluster worker. */
  port?: IpcPort;
  /** Default: `RAMPART_CLUSTER_HEARTBEAT_MS` set by the supervisor, else 1000. */
  heartbeatIntervalMs?: number;
  /** How long a request to the primary may take. Default 5000. */
  requestTimeoutMs?: number;
  now?: () => number;
  /** Where a throwing shutdown callback is reported. Default: process.emitWarning. */
  onError?: (error: unknown) => void;
  /** Thresholds for the single-mode status, so it reports the same policy shape. */
  single?: { churnWindowS: number; churnMax: number; cooldownS: number };
}

const DEFAULT_REQUEST_TIMEOUT_MS = 5000;

export function createWorkerChannel(options: WorkerChannelOptions = {}): WorkerChannel {
  const port = options.port ?? (cluster.isWorker && typeof process.send === 'function' ? processPort() : null);
  return new DefaultWorkerChannel(port, options);
}

function processPort(): IpcPort {
  return {
    connected: () => process.connected === true,
    send: (message) => {
      // process.send exists whenever the process has an IPC channel (checked by the caller).
      process.send?.(message);
    },
    onMessage: (listener) => {
      process.on('message', listener);
      return () => process.off('message', listener);
    },
    onDisconnect: (listener) => {
      process.on('disconnect', listener);
      return () => process.off('disconnect', listener);
    },
  };
}

function heartbeatIntervalFromEnv(): number {
  const raw = Number(process.env[WORKER_ENV.heartbeatMs]);
  return Number.isInteger(raw) && raw > 0 ? raw : DEFAULT_HEARTBEAT_INTERVAL_MS;
}

interface PendingRequest {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

class DefaultWorkerChannel implements WorkerChannel {
  readonly mode: 'cluster' | 'single';
  private readonly port: IpcPort | null;
  private readonly now: () => number;
  private readonly onError: (error: unknown) => void;
  private readonly intervalMs: number;
  private readonly requestTimeoutMs: number;
  private readonly startedAt: number;
  private readonly singlePolicy: RestartPolicy;
  private readonly shutdownCallbacks: Array<(request: ShutdownRequest) => void> = [];
  private readonly logLevelCallbacks: Array<(change: LogLevelMessage) => void> = [];
  private readonly pending = new Map<string, PendingRequest>();
  private readonly unsubscribe: Array<() => void> = [];
  private histogram: ELDHistogram | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private lastLagMs: number | null = null;
  private lastBeatAt: number | null = null;
  private sequence = 0;
  private readyAt: number | null = null;
  private isDraining = false;
  private requests = 0;
  private telemetrySource: TelemetrySource | null = null;

  constructor(port: IpcPort | null, options: WorkerChannelOptions) {
    this.port = port;
    this.mode = port ? 'cluster' : 'single';
    this.now = options.now ?? Date.now;
    this.onError =
      options.onError ??
      ((error) => process.emitWarning(`worker-channel: shutdown callback failed: ${error instanceof Error ? error.message : String(error)}`));
    this.intervalMs = options.heartbeatIntervalMs ?? heartbeatIntervalFromEnv();
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.startedAt = this.now();
    const single = options.single ?? { churnWindowS: 600, churnMax: 3, cooldownS: 30 };
    this.singlePolicy = new RestartPolicy({ windowS: single.churnWindowS, max: single.churnMax, cooldownS: single.cooldownS });
    if (port) {
      this.unsubscribe.push(port.onMessage((message) => this.onMessage(message)));
      this.unsubscribe.push(
        port.onDisconnect(() => this.failPending('SUPERVISOR_UNAVAILABLE', 'the IPC channel to the primary closed')),
      );
    }
  }

  get draining(): boolean {
    return this.isDraining;
  }

  notifyReady(): void {
    this.startHeartbeat();
    if (this.readyAt !== null) return;
    this.readyAt = this.now();
    this.send({ type: 'ready' });
  }

  notifyStopping(signal: string): void {
    this.send({ type: 'stopping', signal });
  }

  startHeartbeat(): void {
    if (this.heartbeatTimer) return;
    this.histogram = monitorEventLoopDelay({ resolution: Math.max(10, Math.min(50, Math.floor(this.intervalMs / 10))) });
    this.histogram.enable();
    this.scheduleBeat();
  }

  eventLoopLagMs(): number | null {
    return this.lastLagMs;
  }

  countRequest(): void {
    this.requests += 1;
  }

  onShutdown(callback: (request: ShutdownRequest) => void): () => void {
    this.shutdownCallbacks.push(callback);
    return () => {
      const index = this.shutdownCallbacks.indexOf(callback);
      if (index >= 0) this.shutdownCallbacks.splice(index, 1);
    };
  }

  requestStatus(): Promise<SupervisorStatus> {
    if (!this.port) return Promise.resolve(this.singleStatus());
    // The primary is our own supervisor on a private channel; its answer has this shape.
    return this.request('status') as Promise<SupervisorStatus>;
  }

  requestMetrics(): Promise<string> {
    if (!this.port) return Promise.reject(new SupervisorRequestError('NOT_CLUSTERED', 'no supervisor to aggregate metrics'));
    return this.request('metrics').then((text) => (typeof text === 'string' ? text : ''));
  }

  requestSetLogLevel(request: SetLogLevelRequest): Promise<LogLevelOverride> {
    if (this.port) return this.request('setLogLevel', request) as Promise<LogLevelOverride>;
    const revertsAt = new Date(this.now() + request.durationMs).toISOString();
    this.emitLogLevel({ type: 'logLevel', level: request.level, remainingMs: request.durationMs, revertsAt, reason: request.reason, setBy: request.requestedBy });
    return Promise.resolve({ level: request.level, revertsAt, reason: request.reason, setBy: request.requestedBy });
  }

  setTelemetrySource(source: TelemetrySource): void {
    this.telemetrySource = source;
  }

  requestTelemetry(minutes: number): Promise<TelemetryView> {
    if (this.port) return this.request('telemetry', { minutes }) as Promise<TelemetryView>;
    const own = this.telemetrySource?.full() ?? { buckets: [], logs: [] };
    const since = this.now() - minutes * 60_000 - TELEMETRY_BUCKET_MS;
    const buckets = own.buckets.filter((b) => b.t >= since);
    return Promise.resolve({ mode: 'single', workers: [{ id: 0, slot: 0, pid: process.pid, alive: true, buckets, logs: own.logs }], primaryLogs: [] });
  }

  onLogLevel(callback: (change: LogLevelMessage) => void): () => void {
    this.logLevelCallbacks.push(callback);
    return () => {
      const index = this.logLevelCallbacks.indexOf(callback);
      if (index >= 0) this.logLevelCallbacks.splice(index, 1);
    };
  }

  private emitLogLevel(change: LogLevelMessage): void {
    for (const callback of [...this.logLevelCallbacks]) {
      try {
        callback(change);
      } catch (error) {
        this.onError(error);
      }
    }
  }

  requestRollingRestart(request: RollingRestartRequest): Promise<RolloutResult> {
    if (!this.port) {
      const at = new Date(this.now()).toISOString();
      return Promise.resolve({
        restartId: request.restartId ?? '',
        reason: request.reason,
        status: 'rejected',
        code: 'NOT_CLUSTERED',
        message: 'running as a single process: a rolling restart needs the cluster supervisor (WORKERS > 1)',
        override: false,
        alreadyRunning: false,
        startedAt: at,
        finishedAt: at,
        total: 0,
        replaced: 0,
        skipped: 0,
        policy: this.singlePolicy.evaluate(this.now()),
      });
    }
    return this.request('rollingRestart', request) as Promise<RolloutResult>;
  }

  close(): void {
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = null;
    this.histogram?.disable();
    for (const off of this.unsubscribe.splice(0)) off();
    this.failPending('SUPERVISOR_UNAVAILABLE', 'worker channel closed');
  }

  private scheduleBeat(): void {
    const scheduledAt = this.now();
    this.heartbeatTimer = setTimeout(() => this.beat(scheduledAt), this.intervalMs);
    // Heartbeats must never be what keeps a draining worker alive.
    this.heartbeatTimer.unref();
  }

  private beat(scheduledAt: number): void {
    const at = this.now();
    // Two views of lag: timer drift catches one long block (the histogram only learns of it
    // after the fact), the histogram catches many short ones between beats.
    const drift = Math.max(0, at - scheduledAt - this.intervalMs);
    const p99 = this.histogram ? this.histogram.percentile(99) / 1e6 : 0;
    this.histogram?.reset();
    const lagMs = Math.round(Math.max(drift, Number.isFinite(p99) ? p99 : 0) * 10) / 10;
    this.lastLagMs = lagMs;
    this.lastBeatAt = at;
    const beat: Record<string, unknown> = { type: 'heartbeat', lagMs, at, rssBytes: process.memoryUsage.rss(), heapUsedBytes: process.memoryUsage().heapUsed, requests: this.requests };
    if (this.port && this.telemetrySource) beat.telemetry = this.telemetrySource.delta();
    this.send(beat);
    this.scheduleBeat();
  }

  private send(message: unknown): boolean {
    if (!this.port || !this.port.connected()) return false;
    try {
      this.port.send(message);
      return true;
    } catch {
      // The channel closed between the check and the write (the primary disconnected us).
      return false;
    }
  }

  private onMessage(raw: unknown): void {
    const message = parsePrimaryMessage(raw);
    if (!message) return;
    if (message.type === 'shutdown') {
      this.isDraining = true;
      for (const callback of [...this.shutdownCallbacks]) {
        try {
          const request: ShutdownRequest = { reason: message.reason, deadlineMs: message.deadlineMs };
          if (message.drainDelayMs !== undefined) request.drainDelayMs = message.drainDelayMs;
          callback(request);
        } catch (error) {
          // One failing callback must not stop the others from draining their part, nor crash
          // the worker while it still has requests in flight.
          this.onError(error);
        }
      }
      return;
    }
    if (message.type === 'logLevel') {
      this.emitLogLevel(message);
      return;
    }
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    clearTimeout(pending.timer);
    if (message.ok) pending.resolve(message.result);
    else pending.reject(new SupervisorRequestError(message.error.code, message.error.message));
  }

  private request(op: RequestOp, payload?: RollingRestartRequest | SetLogLevelRequest | TelemetryRequest): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      this.sequence += 1;
      const id = `${process.pid}:${this.sequence}`;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SupervisorRequestError('SUPERVISOR_TIMEOUT', `the primary did not answer "${op}" within ${this.requestTimeoutMs} ms`));
      }, this.requestTimeoutMs);
      timer.unref();
      this.pending.set(id, { resolve, reject, timer });
      const message = payload ? { type: 'request', id, op, payload } : { type: 'request', id, op };
      if (!this.send(message)) {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(new SupervisorRequestError('SUPERVISOR_UNAVAILABLE', 'no IPC channel to the primary (draining or primary gone)'));
      }
    });
  }

  private failPending(code: string, message: string): void {
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new SupervisorRequestError(code, message));
      this.pending.delete(id);
    }
  }

  private singleStatus(): SupervisorStatus {
    const now = this.now();
    const policy = this.singlePolicy.evaluate(now);
    return {
      mode: 'single',
      pid: process.pid,
      startedAt: new Date(this.startedAt).toISOString(),
      uptimeS: Math.floor((now - this.startedAt) / 1000),
      desiredWorkers: 1,
      shuttingDown: this.isDraining,
      workers: [
        {
          slot: 0,
          id: 0,
          pid: process.pid,
          state: this.isDraining ? 'draining' : this.readyAt !== null ? 'ready' : 'starting',
          startedAt: new Date(this.startedAt).toISOString(),
          readyAt: this.readyAt === null ? null : new Date(this.readyAt).toISOString(),
          restarts: 0,
          lastHeartbeatAt: this.lastBeatAt === null ? null : new Date(this.lastBeatAt).toISOString(),
          eventLoopLagMs: this.lastLagMs,
          watchdog: 'n/a',
          rssBytes: process.memoryUsage.rss(),
          heapUsedBytes: process.memoryUsage().heapUsed,
        },
      ],
      emptySlots: [],
      rollout: null,
      history: [],
      churn: { windowS: policy.windowS, restarts: 0, threshold: policy.threshold, exceeded: false },
      policy,
      crashesInWindow: 0,
    };
  }
}
