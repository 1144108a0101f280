/**
 * The IPC protocol between the cluster primary (supervisor.ts) and its workers
 * (worker-channel.ts), plus the status shapes both sides hand to the admin API.
 *
 * Everything in src/cluster imports only `node:` builtins and sibling files: the cross-process
 * tests compile this folder on its own and fork it, and the primary must stay small and free of
 * the Nest application's dependency graph.
 *
 * Worker -> primary: ready, heartbeat, stopping, request.  Primary -> worker: shutdown, response.
 */

export type WorkerState = 'starting' | 'ready' | 'draining' | 'stopped';
export type PolicyState = 'allowed' | 'cooling_down' | 'blocked';
/** `recycle`: WORKER_MAX_RSS_MB / WORKER_MAX_REQUESTS replaced a healthy worker (planned). */
export type RestartKind = 'rolling' | 'watchdog' | 'crash' | 'recycle';
/** What the watchdog currently thinks of a worker; `n/a` while it is not serving. */
export type WatchdogVerdict = 'ok' | 'lagging' | 'unresponsive' | 'n/a';

/** Environment variables the supervisor hands to every worker it forks. */
export const WORKER_ENV = {
  slot: 'RAMPART_CLUSTER_SLOT',
  heartbeatMs: 'RAMPART_CLUSTER_HEARTBEAT_MS',
  drainTimeoutMs: 'RAMPART_CLUSTER_DRAIN_TIMEOUT_MS',
} as const;

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1000;

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

/** The application is fully up (database, Redis, migrations done) and listening. */
export interface ReadyMessage {
  type: 'ready';
}

export interface HeartbeatMessage {
  type: 'heartbeat';
  /** Event-loop lag observed over the last interval, in milliseconds. */
  lagMs: number;
  /** Worker clock, epoch ms; informative only, the primary judges staleness by its own clock. */
  at: number;
  /** Resident set size at the beat, bytes (worker recycling, status). */
  rssBytes?: number;
  /** HTTP requests this worker has received since it started (worker recycling, status). */
  requests?: number;
  /** V8 heap in use at the beat, bytes (status). */
  heapUsedBytes?: number;
  /** The newest telemetry buckets and the log lines since the last beat (console history). */
  telemetry?: TelemetryDelta;
}

/**
 * The worker got a stop signal of its own (SIGTERM/SIGINT sent to it or to the whole process
 * group) and is draining: its exit is not a crash. When the primary is not stopping too (only
 * this worker was signalled) the slot is refilled as soon as it exits.
 */
export interface StoppingMessage {
  type: 'stopping';
  signal: string;
}

/**
 * `metrics`: every worker's Prometheus registry aggregated by the primary, as exposition text.
 * `setLogLevel`: a temporary log level for every process (the primary broadcasts `logLevel`).
 */
export type RequestOp = 'status' | 'rollingRestart' | 'metrics' | 'setLogLevel' | 'telemetry';

// ---------------------------------------------------------------------------------------------
// Console history: every worker keeps 10 s buckets and its recent warn/error lines, sends the
// newest ones with each heartbeat, and the primary keeps them per worker (bounded), so the
// console has the last hour across workers without Prometheus.
// ---------------------------------------------------------------------------------------------

export const TELEMETRY_BUCKET_MS = 10_000;
/** One hour of 10 s buckets per worker. */
export const TELEMETRY_BUCKETS = 360;
/** Recent warn/error/fatal lines kept per worker (and by the primary for itself). */
export const RECENT_LOG_LINES = 200;
/** Upper bounds (ms) of the latency histogram in every bucket; one more count for "above". */
export const LATENCY_BOUNDS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000] as const;
/** Workers whose history the primary keeps: the live ones plus this many that have exited. */
export const TELEMETRY_EXITED_KEPT = 8;

/** Only the buckets of the window the console shows cross IPC (an hour of every worker is large). */
export interface TelemetryRequest {
  minutes: number;
}

export interface TelemetryBucket {
  /** Bucket start, epoch ms (a multiple of TELEMETRY_BUCKET_MS). */
  t: number;
  requests: number;
  /** Non-2xx answers by contract error code. */
  errors: Record<string, number>;
  /** Counts per LATENCY_BOUNDS_MS bucket plus one overflow count. */
  latency: number[];
  /** Highest main-pool saturation (in use / max) sampled in the bucket. */
  poolSaturation: number;
  /** Most requests waiting for a pool connection sampled in the bucket. */
  poolWaiting: number;
  /** Worst breaker state seen: 0 closed, 1 half-open, 2 open. */
  breaker: number;
  /** Requests refused by admission control (OVERLOADED). */
  shed: number;
  rssBytes: number;
  heapUsedBytes: number;
}

export type LogLineLevel = 'warn' | 'error' | 'fatal';

/** A warn-or-worse log line, already through the logger's redaction. */
export interface LogLine {
  /** Per-process sequence number: the heartbeat sends lines newer than the last one sent. */
  seq: number;
  at: string;
  level: LogLineLevel;
  msg: string;
  correlationId: string | null;
  errorCode: string | null;
  route: string | null;
  status: number | null;
}

export interface TelemetryDelta {
  buckets: TelemetryBucket[];
  logs: LogLine[];
}

export interface WorkerTelemetry {
  id: number;
  slot: number;
  pid: number | null;
  alive: boolean;
  buckets: TelemetryBucket[];
  logs: LogLine[];
}

/** What the `telemetry` request answers: every worker's history, and the primary's own lines. */
export interface TelemetryView {
  mode: 'cluster' | 'single';
  workers: WorkerTelemetry[];
  primaryLogs: LogLine[];
}

/** pino's levels an operator may switch to at runtime (`silent` is not: an incident needs logs). */
export const RUNTIME_LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type RuntimeLogLevel = (typeof RUNTIME_LOG_LEVELS)[number];
/** Bounds of a runtime log level's lifetime: it always reverts by itself. */
export const LOG_LEVEL_MAX_MINUTES = 1440;

export function isRuntimeLogLevel(value: unknown): value is RuntimeLogLevel {
  return typeof value === 'string' && (RUNTIME_LOG_LEVELS as readonly string[]).includes(value);
}

export interface SetLogLevelRequest {
  level: RuntimeLogLevel;
  /** How long until it reverts to LOG_LEVEL, ms (1 min .. LOG_LEVEL_MAX_MINUTES). */
  durationMs: number;
  reason: string;
  requestedBy: string;
}

/** What a runtime log level change answers, and what status shows while one is on. */
export interface LogLevelOverride {
  level: RuntimeLogLevel;
  /** ISO time at which every process reverts to its configured LOG_LEVEL. */
  revertsAt: string;
  reason: string;
  setBy: string;
}

export interface WorkerRequestMessage {
  type: 'request';
  /** Correlation id, unique within the sending worker. */
  id: string;
  op: RequestOp;
  payload?: RollingRestartRequest | SetLogLevelRequest | TelemetryRequest;
}

export type WorkerToPrimary = ReadyMessage | HeartbeatMessage | StoppingMessage | WorkerRequestMessage;

/**
 * Stop accepting, finish in-flight work, exit. The primary kills the worker after `deadlineMs`.
 *
 * Without `drainDelayMs` (a rolling restart retiring one worker) the worker closes its listener
 * at once: the rest of the cluster keeps the port. With it (the whole service is stopping) the
 * worker first answers readiness `shutting_down` while still serving for that long, exactly as a
 * signalled single process does, so load balancers stop routing before the port closes.
 */
export interface ShutdownMessage {
  type: 'shutdown';
  reason: string;
  deadlineMs: number;
  drainDelayMs?: number;
}

/**
 * Part of a stop's deadline left for the worker's teardown (pools, Redis, logs) after its HTTP
 * drain bound; the worker's drain bound is the deadline minus the delay minus this.
 */
export const STOP_TEARDOWN_MARGIN_MS = 3000;

export interface ResponseError {
  code: string;
  message: string;
}

export type ResponseMessage =
  | { type: 'response'; id: string; ok: true; result: unknown }
  | { type: 'response'; id: string; ok: false; error: ResponseError };

/**
 * Set (level) or end (level null) a runtime log level. Sent to every worker when set, to each
 * new worker on ready while one is on, and at the revert; each worker also reverts by itself
 * after `remainingMs`, so a lost message cannot leave it at debug.
 */
export interface LogLevelMessage {
  type: 'logLevel';
  level: RuntimeLogLevel | null;
  remainingMs: number;
  /** The primary's revert time (ISO), shown by every worker alike; '' on a revert. */
  revertsAt: string;
  reason: string;
  setBy: string;
}

export type PrimaryToWorker = ShutdownMessage | ResponseMessage | LogLevelMessage;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** Narrows a raw IPC payload; anything unexpected is ignored rather than trusted. */
export function parseWorkerMessage(raw: unknown): WorkerToPrimary | null {
  if (!isRecord(raw)) return null;
  switch (raw['type']) {
    case 'ready':
      return { type: 'ready' };
    case 'stopping':
      return { type: 'stopping', signal: typeof raw['signal'] === 'string' ? raw['signal'].slice(0, 20) : 'signal' };
    case 'heartbeat':
      if (!isFiniteNumber(raw['lagMs']) || raw['lagMs'] < 0) return null;
      const beat: HeartbeatMessage = { type: 'heartbeat', lagMs: raw['lagMs'], at: isFiniteNumber(raw['at']) ? raw['at'] : 0 };
      if (isFiniteNumber(raw['rssBytes']) && raw['rssBytes'] >= 0) beat.rssBytes = raw['rssBytes'];
      if (isFiniteNumber(raw['requests']) && raw['requests'] >= 0) beat.requests = raw['requests'];
      if (isFiniteNumber(raw['heapUsedBytes']) && raw['heapUsedBytes'] >= 0) beat.heapUsedBytes = raw['heapUsedBytes'];
      if (isRecord(raw['telemetry'])) beat.telemetry = parseTelemetryDelta(raw['telemetry']);
      return beat;
    case 'request': {
      const id = raw['id'];
      const op = raw['op'];
      if (typeof id !== 'string' || id.length === 0 || id.length > 200) return null;
      if (op !== 'status' && op !== 'rollingRestart' && op !== 'metrics' && op !== 'setLogLevel' && op !== 'telemetry') return null;
      const payload = raw['payload'];
      if (op === 'setLogLevel') {
        const request = isRecord(payload) ? parseSetLogLevelRequest(payload) : null;
        return request ? { type: 'request', id, op, payload: request } : null;
      }
      if (op === 'rollingRestart') {
        if (!isRecord(payload)) return null;
        return { type: 'request', id, op, payload: parseRollingRestartRequest(payload) };
      }
      if (op === 'telemetry') {
        const minutes = isRecord(payload) && isFiniteNumber(payload['minutes']) ? Math.min(Math.max(1, payload['minutes']), 60) : 60;
        return { type: 'request', id, op, payload: { minutes } };
      }
      return { type: 'request', id, op };
    }
    default:
      return null;
  }
}

const num = (value: unknown): number => (isFiniteNumber(value) && value >= 0 ? value : 0);
const textOrNull = (value: unknown, max: number): string | null => (typeof value === 'string' ? value.slice(0, max) : null);

/** Bounded and typed: a worker's history is shown to operators, never trusted as code. */
export function parseTelemetryDelta(raw: Record<string, unknown>): TelemetryDelta {
  const buckets: TelemetryBucket[] = [];
  for (const b of Array.isArray(raw['buckets']) ? raw['buckets'].slice(-TELEMETRY_BUCKETS) : []) {
    if (!isRecord(b) || !isFiniteNumber(b['t'])) continue;
    const errors: Record<string, number> = {};
    if (isRecord(b['errors'])) for (const [code, n] of Object.entries(b['errors']).slice(0, 50)) if (/^[A-Z0-9_]{1,60}$/.test(code)) errors[code] = num(n);
    const latency = Array.isArray(b['latency']) ? b['latency'].slice(0, LATENCY_BOUNDS_MS.length + 1).map(num) : [];
    while (latency.length < LATENCY_BOUNDS_MS.length + 1) latency.push(0);
    buckets.push({
      t: b['t'],
      requests: num(b['requests']),
      errors,
      latency,
      poolSaturation: num(b['poolSaturation']),
      poolWaiting: num(b['poolWaiting']),
      breaker: Math.min(2, num(b['breaker'])),
      shed: num(b['shed']),
      rssBytes: num(b['rssBytes']),
      heapUsedBytes: num(b['heapUsedBytes']),
    });
  }
  const logs: LogLine[] = [];
  for (const l of Array.isArray(raw['logs']) ? raw['logs'].slice(-RECENT_LOG_LINES) : []) {
    if (!isRecord(l) || !isFiniteNumber(l['seq'])) continue;
    const level = l['level'] === 'fatal' || l['level'] === 'error' ? l['level'] : 'warn';
    logs.push({
      seq: l['seq'],
      at: textOrNull(l['at'], 40) ?? '',
      level,
      msg: textOrNull(l['msg'], 500) ?? '',
      correlationId: textOrNull(l['correlationId'], 100),
      errorCode: textOrNull(l['errorCode'], 60),
      route: textOrNull(l['route'], 200),
      status: isFiniteNumber(l['status']) ? l['status'] : null,
    });
  }
  return { buckets, logs };
}

function parseSetLogLevelRequest(raw: Record<string, unknown>): SetLogLevelRequest | null {
  const { level, durationMs, reason, requestedBy } = raw;
  if (!isRuntimeLogLevel(level) || !isFiniteNumber(durationMs)) return null;
  if (durationMs < 1 || durationMs > LOG_LEVEL_MAX_MINUTES * 60_000) return null;
  return {
    level,
    durationMs,
    reason: typeof reason === 'string' ? reason.slice(0, 500) : '',
    requestedBy: typeof requestedBy === 'string' ? requestedBy.slice(0, 200) : '',
  };
}

function parseRollingRestartRequest(raw: Record<string, unknown>): RollingRestartRequest {
  const request: RollingRestartRequest = {
    reason: typeof raw['reason'] === 'string' ? raw['reason'] : '',
  };
  if (typeof raw['restartId'] === 'string') request.restartId = raw['restartId'];
  if (raw['acknowledgeOverride'] === true) request.acknowledgeOverride = true;
  if (typeof raw['requestedBy'] === 'string') request.requestedBy = raw['requestedBy'];
  return request;
}

export function parsePrimaryMessage(raw: unknown): PrimaryToWorker | null {
  if (!isRecord(raw)) return null;
  if (raw['type'] === 'shutdown') {
    const message: ShutdownMessage = {
      type: 'shutdown',
      reason: typeof raw['reason'] === 'string' ? raw['reason'] : 'shutdown',
      deadlineMs: isFiniteNumber(raw['deadlineMs']) ? raw['deadlineMs'] : 0,
    };
    if (isFiniteNumber(raw['drainDelayMs']) && raw['drainDelayMs'] >= 0) message.drainDelayMs = raw['drainDelayMs'];
    return message;
  }
  if (raw['type'] === 'logLevel') {
    const level = raw['level'];
    if (level !== null && !isRuntimeLogLevel(level)) return null;
    return {
      type: 'logLevel',
      level,
      remainingMs: isFiniteNumber(raw['remainingMs']) && raw['remainingMs'] > 0 ? Math.min(raw['remainingMs'], LOG_LEVEL_MAX_MINUTES * 60_000) : 0,
      revertsAt: typeof raw['revertsAt'] === 'string' ? raw['revertsAt'].slice(0, 40) : '',
      reason: typeof raw['reason'] === 'string' ? raw['reason'] : '',
      setBy: typeof raw['setBy'] === 'string' ? raw['setBy'] : '',
    };
  }
  if (raw['type'] === 'response' && typeof raw['id'] === 'string') {
    if (raw['ok'] === true) return { type: 'response', id: raw['id'], ok: true, result: raw['result'] };
    const error = isRecord(raw['error']) ? raw['error'] : {};
    return {
      type: 'response',
      id: raw['id'],
      ok: false,
      error: {
        code: typeof error['code'] === 'string' ? error['code'] : 'INTERNAL',
        message: typeof error['message'] === 'string' ? error['message'] : 'supervisor error',
      },
    };
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Requests and status shapes (all JSON-safe: they cross IPC and end up in HTTP responses)
// ---------------------------------------------------------------------------------------------

export interface RollingRestartRequest {
  /** Why; required, kept in the restart history and logs (the admin API audits it). */
  reason: string;
  /** Supplied by the admin API so its audit row and the rollout share one id; generated otherwise. */
  restartId?: string;
  /** Must be true to restart while the churn policy is `blocked`. */
  acknowledgeOverride?: boolean;
  /** Free-form actor for logs, e.g. the admin username. */
  requestedBy?: string;
}

export type RolloutStatus = 'running' | 'completed' | 'failed' | 'rejected' | 'aborted';

export type RolloutCode =
  | 'RESTART_BLOCKED'
  | 'SHUTTING_DOWN'
  | 'INVALID_REQUEST'
  | 'NOT_CLUSTERED'
  | 'READY_TIMEOUT'
  | 'WORKER_EXITED';

export interface RolloutResult {
  restartId: string;
  reason: string;
  status: RolloutStatus;
  /** Set when status is rejected, failed or aborted. */
  code: RolloutCode | null;
  message: string | null;
  /** True when the churn block was bypassed with acknowledgeOverride. */
  override: boolean;
  /** True when this answer is a rollout that was already running (a second request joins it). */
  alreadyRunning: boolean;
  startedAt: string;
  finishedAt: string | null;
  /** Workers to replace when the rollout started. */
  total: number;
  replaced: number;
  /** Slots left alone because automatic recovery was already replacing them. */
  skipped: number;
  policy: PolicyEvaluation;
}

export interface PolicyEvaluation {
  state: PolicyState;
  /**
   * Whole seconds until automatic recovery is allowed again: the cooldown when `cooling_down`,
   * the later of cooldown and window drain when `blocked`, 0 when `allowed`.
   */
  cooldownRemainingS: number;
  /** Unplanned restarts (crash, watchdog) in the window: the ones the threshold applies to. */
  restartsInWindow: number;
  /** Planned restarts (rolling) in the window: shown, never counted. */
  plannedInWindow: number;
  windowS: number;
  threshold: number;
  exceeded: boolean;
  nextAction: string;
}

export interface WorkerStatus {
  /** Stable position 0..workers-1; survives replacements, unlike id and pid. */
  slot: number;
  /** cluster worker id (0 in single-process mode). */
  id: number;
  pid: number | null;
  state: WorkerState;
  startedAt: string;
  readyAt: string | null;
  /** How many times this slot's worker has been replaced. */
  restarts: number;
  lastHeartbeatAt: string | null;
  eventLoopLagMs: number | null;
  watchdog: WatchdogVerdict;
  /** Cluster mode, from the last heartbeat: resident set size in bytes. */
  rssBytes?: number;
  /** Cluster mode, from the last heartbeat: requests received since the worker started. */
  requests?: number;
  /** Cluster mode with WORKER_MAX_REQUESTS: this worker's jittered request limit. */
  requestLimit?: number;
  /** Cluster mode, from the last heartbeat: V8 heap in use, bytes. */
  heapUsedBytes?: number;
  /** How the slot's previous worker ended; absent while the slot has had only this one. */
  lastExit?: WorkerExitView;
}

export interface WorkerExitView {
  code: number | null;
  signal: string | null;
  at: string;
  /** A crash or watchdog kill, not a planned replacement or a stop. */
  unexpected: boolean;
}

/** Why a slot has no worker right now. */
export type EmptySlotReason = 'blocked' | 'backoff' | 'cooldown';

/** A slot waiting to be refilled after a crash; gone once its replacement is forked. */
export interface EmptySlotView {
  slot: number;
  state: 'empty';
  reason: EmptySlotReason;
  /** Whole seconds until the replacement is forked (rounded up). */
  refillInS: number;
  /** When the slot became empty (ISO). */
  since: string;
}

export interface RestartRecordView {
  at: string;
  kind: RestartKind;
  reason: string;
  restartId: string | null;
  slot: number | null;
  override: boolean;
  /** Rolling restarts: recorded, not counted toward churn. */
  planned: boolean;
}

export interface ChurnSummary {
  windowS: number;
  restarts: number;
  threshold: number;
  exceeded: boolean;
}

export interface SupervisorStatus {
  mode: 'cluster' | 'single';
  pid: number;
  startedAt: string;
  uptimeS: number;
  desiredWorkers: number;
  shuttingDown: boolean;
  workers: WorkerStatus[];
  /** Slots with no worker, why, and when each is refilled (empty when every slot is occupied). */
  emptySlots: EmptySlotView[];
  /** The running rollout, or the last one to finish. */
  rollout: RolloutResult | null;
  /** Restarts within the churn window, oldest first. */
  history: RestartRecordView[];
  churn: ChurnSummary;
  policy: PolicyEvaluation;
  crashesInWindow: number;
}
