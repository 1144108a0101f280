/**
 * Hand-written types of the endpoints in DOMAIN.md and CONTRACT.md. Timestamps are ISO 8601
 * strings, as JSON carries them. `shapes.ts` mirrors them as runtime data (checked against these
 * types at compile time), and the integration test compares that with the server's OpenAPI
 * document (`/api/docs-json`), so a drift fails CI rather than a dashboard.
 */

export type Role = 'viewer' | 'operator' | 'admin';

export interface User {
  id: number;
  username: string;
  role: Role;
}

/** `POST /api/auth/login`, `GET /api/auth/me` and `POST /api/auth/password`. */
export interface SessionResponse {
  user: User;
  /**
   * Present (true) when the session signed in with a one-time password: until `changePassword`
   * succeeds, every other call but `me`, `logout` and the CSRF token is 403 FORBIDDEN.
   */
  mustChangePassword?: boolean;
}

/** `GET /api/auth/csrf`. */
export interface CsrfResponse {
  token: string;
}

export type LotStatus = 'queued' | 'running' | 'hold' | 'done';
export type EquipmentState = 'run' | 'idle' | 'down' | 'maint';

export interface WipStation {
  stationId: number;
  code: string;
  name: string;
  counts: Record<LotStatus, number>;
  total: number;
}

/**
 * `GET /api/reports/wip-summary`. Served from a cache; `stale: true` when the database is
 * degraded and this is the last good value, `asOf` says when it was read.
 */
export interface WipSummary {
  asOf: string;
  stale?: boolean;
  stations: WipStation[];
}

export interface EquipmentStatusItem {
  id: number;
  stationId: number;
  stationCode: string;
  code: string;
  state: EquipmentState;
  stateSince: string;
  secondsInState: number;
}

/** `GET /api/reports/equipment-status`: read live, not cached, so never stale. */
export interface EquipmentStatusReport {
  asOf: string;
  items: EquipmentStatusItem[];
}

export interface Lot {
  id: number;
  code: string;
  product: string;
  stationId: number;
  status: LotStatus;
  priority: number;
  updatedAt: string;
}

/** Query of `GET /api/lots`; keyset pagination, pass the previous page's `nextCursor` as `cursor`. */
export interface LotListParams {
  status?: LotStatus;
  station?: number | string;
  /** 1 to 200; default 50. */
  limit?: number;
  cursor?: string;
}

export interface LotPage {
  items: Lot[];
  nextCursor: string | null;
}

/** One of a lot's latest events, newest first (`GET /api/lots/:id`). */
export interface LotEvent {
  id: number;
  at: string;
  kind: string;
  stationId: number;
  payload: Record<string, unknown>;
}

export interface LotNote {
  id: number;
  lotId: number;
  authorId: number;
  text: string;
  createdAt: string;
}

/** `GET /api/lots/:id`: the lot with its latest events and notes. */
export interface LotDetail extends Lot {
  events: LotEvent[];
  notes: LotNote[];
}

export type PolicyState = 'allowed' | 'cooling_down' | 'blocked';

/** The restart churn policy's verdict. */
export interface RestartPolicy {
  state: PolicyState;
  /** Whole seconds until automatic recovery is allowed again; 0 when `allowed`. */
  cooldownRemainingS: number;
  /** Crash and watchdog restarts in the window: the ones the threshold applies to. */
  restartsInWindow: number;
  /** Rolling restarts in the window: recorded, never counted toward churn. */
  plannedInWindow: number;
  windowS: number;
  threshold: number;
  exceeded: boolean;
  nextAction: string;
}

export type WorkerState = 'starting' | 'ready' | 'draining' | 'stopped';

export interface WorkerInfo {
  /** Stable position 0..workers-1; survives replacements, unlike id and pid. */
  slot: number;
  /** Cluster worker id (0 in single-process mode). */
  id: number;
  pid: number | null;
  state: WorkerState;
  startedAt: string;
  readyAt: string | null;
  /** How many times this slot's worker has been replaced. */
  restarts: number;
  lastHeartbeatAt: string | null;
  eventLoopLagMs: number | null;
  watchdog: 'ok' | 'lagging' | 'unresponsive' | 'n/a';
  /** Cluster mode: resident set size at the last heartbeat, bytes. */
  rssBytes?: number;
  /** Cluster mode: requests received since the worker started. */
  requests?: number;
  /** WORKER_MAX_REQUESTS: this worker's jittered request limit. */
  requestLimit?: number;
  /** V8 heap in use (cluster mode: at the last heartbeat), bytes. */
  heapUsedBytes?: number;
  /** How the slot's previous worker ended (on an empty slot's row: how this one ended). */
  lastExit?: WorkerExit;
}

export interface WorkerExit {
  code: number | null;
  signal: string | null;
  at: string;
  /** A crash or watchdog kill, not a planned replacement or a stop. */
  unexpected: boolean;
}

export interface RestartRecord {
  at: string;
  kind: 'rolling' | 'watchdog' | 'crash' | 'recycle';
  reason: string;
  restartId: string | null;
  slot: number | null;
  override: boolean;
  /** Rolling restarts are planned: shown, not counted toward churn. */
  planned: boolean;
}

/** A worker slot with no worker: why, and when it is refilled. */
export interface EmptySlot {
  slot: number;
  state: 'empty';
  reason: 'blocked' | 'backoff' | 'cooldown';
  /** Whole seconds until the replacement is forked. */
  refillInS: number;
  since: string;
}

/** A rolling restart: the running one, or the last one to finish. */
export interface Rollout {
  restartId: string;
  reason: string;
  status: 'running' | 'completed' | 'failed' | 'rejected' | 'aborted';
  /** Set when status is rejected, failed or aborted. */
  code: string | null;
  message: string | null;
  override: boolean;
  alreadyRunning: boolean;
  startedAt: string;
  finishedAt: string | null;
  total: number;
  replaced: number;
  skipped: number;
  policy: RestartPolicy;
}

/** `GET /admin/api/worker/status`. */
export interface WorkerStatus {
  mode: 'cluster' | 'single';
  workers: WorkerInfo[];
  /** Slots with no worker (empty when every slot is occupied). */
  emptySlots: EmptySlot[];
  /** Restarts within the churn window, oldest first. */
  history: RestartRecord[];
  policy: RestartPolicy;
  cooldownRemainingS: number;
  nextAction: string;
  rollout: Rollout | null;
}

/** Body of `POST /admin/api/worker/restart`; without `acknowledgeOverride: true` a blocked policy answers 409 `RESTART_BLOCKED`. */
export interface RestartRequest {
  reason: string;
  acknowledgeOverride?: boolean;
}

/** 202 answer of `POST /admin/api/worker/restart`. */
export interface RestartAccepted {
  restartId: string;
  status: 'running';
}
