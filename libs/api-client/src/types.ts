/**
 * Hand-written types of the endpoints in DOMAIN.md and CONTRACT.md. Timestamps are ISO 8601
 * strings, as JSON carries them. The integration test checks these against the server's
 * OpenAPI document (`/api/docs-json`), so a drift fails CI rather than a dashboard.
 */

export type Role = 'viewer' | 'operator' | 'admin';

export interface User {
  id: number;
  username: string;
  role: Role;
}

/** `POST /api/auth/login` and `GET /api/auth/me`. */
export interface SessionResponse {
  user: User;
}

/** `GET /api/auth/csrf`. */
export interface CsrfResponse {
  token: string;
}

export type LotStatus = 'queued' | 'running' | 'hold' | 'done';
export type EquipmentState = 'run' | 'idle' | 'down' | 'maint';

/** Served from a cache; `stale: true` when the DB is degraded and this is the last good value. */
interface CachedReport {
  asOf: string;
  stale?: boolean;
}

export interface WipStation {
  stationId: number;
  code: string;
  name: string;
  counts: Record<LotStatus, number>;
  total: number;
}

/** `GET /api/reports/wip-summary`. */
export interface WipSummary extends CachedReport {
  stations: WipStation[];
}

export interface EquipmentStatusItem {
  id: number;
  stationId: number;
  code: string;
  state: EquipmentState;
  stateSince: string;
  secondsInState: number;
}

/** `GET /api/reports/equipment-status`. */
export interface EquipmentStatusReport extends CachedReport {
  equipment: EquipmentStatusItem[];
}

export interface Lot {
  id: number;
  code: string;
  product: string;
  stationId: number | null;
  status: LotStatus;
  priority: number;
  updatedAt: string;
}

/** Query of `GET /api/lots`; keyset pagination, pass the previous page's `nextCursor` as `cursor`. */
export interface LotListParams {
  status?: LotStatus;
  station?: number | string;
  /** At most 200. */
  limit?: number;
  cursor?: string;
}

export interface LotPage {
  items: Lot[];
  nextCursor: string | null;
}

export interface LotEvent {
  /** bigserial: a string, since it may exceed Number.MAX_SAFE_INTEGER. */
  id: string;
  lotId: number;
  at: string;
  kind: string;
  stationId: number | null;
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

export interface RestartPolicy {
  state: PolicyState;
  cooldownRemainingS: number;
  nextAction: string;
}

export interface WorkerInfo {
  id: number;
  pid: number;
  state: string;
  startedAt: string;
  restarts: number;
  lastHeartbeatAt: string | null;
  eventLoopLagMs: number;
}

export interface RestartRecord {
  at: string;
  workerId: number | null;
  reason: string | null;
}

/** `GET /admin/api/worker/status`. */
export interface WorkerStatus {
  workers: WorkerInfo[];
  restartHistory: RestartRecord[];
  policy: RestartPolicy;
}

/** Body of `POST /admin/api/worker/restart`; without `acknowledgeOverride: true` a blocked policy answers 409 `RESTART_BLOCKED`. */
export interface RestartRequest {
  reason: string;
  acknowledgeOverride?: boolean;
}

/** 202 answer of `POST /admin/api/worker/restart`. */
export interface RestartAccepted {
  restartId: string;
}
