import type { ErrorDetail, ErrorEnvelope } from './errors.js';
import type { HttpMethod } from './retry.js';
import type * as T from './types.js';

/**
 * The response types of `types.ts` as runtime data, so a test can compare them with the
 * server's OpenAPI document (`/api/docs-json`) and with live responses. TypeScript types do
 * not exist at runtime; `satisfies` below ties this data to them at compile time, so editing
 * a type without this file (or the other way round) fails `tsc`.
 *
 * A field is described as `<kind>[|null][?]`:
 * - kind: `string`, `number`, `boolean`, `object` (free-form), the name of another shape
 *   (`User`), or either of those followed by `[]` for an array (`Lot[]`);
 * - `|null`: the value may be null (OpenAPI `nullable: true`);
 * - `?`: the property may be absent (not in the schema's `required`).
 */
export interface ShapeTypes {
  ErrorEnvelope: ErrorEnvelope;
  ErrorBody: ErrorEnvelope['error'];
  ErrorDetail: ErrorDetail;
  User: T.User;
  SessionResponse: T.SessionResponse;
  CsrfResponse: T.CsrfResponse;
  WipSummary: T.WipSummary;
  WipStation: T.WipStation;
  EquipmentStatusReport: T.EquipmentStatusReport;
  EquipmentStatusItem: T.EquipmentStatusItem;
  Lot: T.Lot;
  LotPage: T.LotPage;
  LotEvent: T.LotEvent;
  LotNote: T.LotNote;
  LotDetail: T.LotDetail;
  WorkerStatus: T.WorkerStatus;
  WorkerInfo: T.WorkerInfo;
  WorkerExit: T.WorkerExit;
  EmptySlot: T.EmptySlot;
  RestartRecord: T.RestartRecord;
  RestartPolicy: T.RestartPolicy;
  Rollout: T.Rollout;
  RestartAccepted: T.RestartAccepted;
}

export type ShapeName = keyof ShapeTypes;

/** The shape whose type is exactly V (assignable both ways), or never. */
type ShapeNameOf<V> = {
  [N in ShapeName]: [ShapeTypes[N]] extends [V] ? ([V] extends [ShapeTypes[N]] ? N : never) : never;
}[ShapeName];

type ScalarKind<V> = V extends string
  ? 'string'
  : V extends number
    ? 'number'
    : V extends boolean
      ? 'boolean'
      : V extends object
        ? [ShapeNameOf<V>] extends [never]
          ? 'object'
          : ShapeNameOf<V>
        : never;

type Kind<V> = V extends readonly (infer E)[] ? `${ScalarKind<E>}[]` : ScalarKind<V>;

type FieldSpec<O, K extends keyof O> = `${Kind<NonNullable<O[K]>>}${null extends O[K] ? '|null' : ''}${{} extends Pick<O, K> ? '?' : ''}`;

/** Every property of O, each with the one description its type allows; no others. */
export type Shape<O> = { readonly [K in keyof O]-?: FieldSpec<O, K> };

const LOT_FIELDS = {
  id: 'number',
  code: 'string',
  product: 'string',
  stationId: 'number',
  status: 'string',
  priority: 'number',
  updatedAt: 'string',
} as const;

export const SHAPES = {
  ErrorEnvelope: { error: 'ErrorBody' },
  ErrorBody: {
    code: 'string',
    message: 'string',
    retryable: 'boolean',
    retryAfterMs: 'number|null',
    correlationId: 'string',
    details: 'ErrorDetail[]?',
  },
  ErrorDetail: { path: 'string', message: 'string' },
  User: { id: 'number', username: 'string', role: 'string' },
  SessionResponse: { user: 'User', mustChangePassword: 'boolean?' },
  CsrfResponse: { token: 'string' },
  WipSummary: { asOf: 'string', stale: 'boolean?', stations: 'WipStation[]' },
  WipStation: { stationId: 'number', code: 'string', name: 'string', counts: 'object', total: 'number' },
  EquipmentStatusReport: { asOf: 'string', items: 'EquipmentStatusItem[]' },
  EquipmentStatusItem: {
    id: 'number',
    stationId: 'number',
    stationCode: 'string',
    code: 'string',
    state: 'string',
    stateSince: 'string',
    secondsInState: 'number',
  },
  Lot: LOT_FIELDS,
  LotPage: { items: 'Lot[]', nextCursor: 'string|null' },
  LotEvent: { id: 'number', at: 'string', kind: 'string', stationId: 'number', payload: 'object' },
  LotNote: { id: 'number', lotId: 'number', authorId: 'number', text: 'string', createdAt: 'string' },
  // The server's LotDetailDto extends LotDto: the same fields plus events and notes.
  LotDetail: {
    ...LOT_FIELDS,
    events: 'LotEvent[]',
    notes: 'LotNote[]',
  },
  WorkerStatus: {
    mode: 'string',
    workers: 'WorkerInfo[]',
    emptySlots: 'EmptySlot[]',
    history: 'RestartRecord[]',
    policy: 'RestartPolicy',
    cooldownRemainingS: 'number',
    nextAction: 'string',
    rollout: 'Rollout|null',
  },
  WorkerInfo: {
    slot: 'number',
    id: 'number',
    pid: 'number|null',
    state: 'string',
    startedAt: 'string',
    readyAt: 'string|null',
    restarts: 'number',
    lastHeartbeatAt: 'string|null',
    eventLoopLagMs: 'number|null',
    watchdog: 'string',
    rssBytes: 'number?',
    requests: 'number?',
    requestLimit: 'number?',
    heapUsedBytes: 'number?',
    lastExit: 'WorkerExit?',
  },
  WorkerExit: {
    code: 'number|null',
    signal: 'string|null',
    at: 'string',
    unexpected: 'boolean',
  },
  EmptySlot: {
    slot: 'number',
    state: 'string',
    reason: 'string',
    refillInS: 'number',
    since: 'string',
  },
  RestartRecord: {
    at: 'string',
    kind: 'string',
    reason: 'string',
    restartId: 'string|null',
    slot: 'number|null',
    override: 'boolean',
    planned: 'boolean',
  },
  RestartPolicy: {
    state: 'string',
    cooldownRemainingS: 'number',
    restartsInWindow: 'number',
    plannedInWindow: 'number',
    windowS: 'number',
    threshold: 'number',
    exceeded: 'boolean',
    nextAction: 'string',
  },
  Rollout: {
    restartId: 'string',
    reason: 'string',
    status: 'string',
    code: 'string|null',
    message: 'string|null',
    override: 'boolean',
    alreadyRunning: 'boolean',
    startedAt: 'string',
    finishedAt: 'string|null',
    total: 'number',
    replaced: 'number',
    skipped: 'number',
    policy: 'RestartPolicy',
  },
  RestartAccepted: { restartId: 'string', status: 'string' },
} as const satisfies { readonly [N in ShapeName]: Shape<ShapeTypes[N]> };

export interface Endpoint {
  method: HttpMethod;
  /** As the OpenAPI document writes it, with `{name}` for path parameters. */
  path: string;
  /** The success status. */
  status: number;
  /** The body's shape; null when there is none. */
  response: ShapeName | null;
}

/** Every endpoint a typed helper of `ApiClient` calls (the generic calls may reach any). */
export const ENDPOINTS = [
  { method: 'POST', path: '/api/auth/login', status: 200, response: 'SessionResponse' },
  { method: 'POST', path: '/api/auth/logout', status: 204, response: null },
  { method: 'GET', path: '/api/auth/me', status: 200, response: 'SessionResponse' },
  { method: 'GET', path: '/api/auth/csrf', status: 200, response: 'CsrfResponse' },
  { method: 'POST', path: '/api/auth/password', status: 200, response: 'SessionResponse' },
  { method: 'GET', path: '/api/reports/wip-summary', status: 200, response: 'WipSummary' },
  { method: 'GET', path: '/api/reports/equipment-status', status: 200, response: 'EquipmentStatusReport' },
  { method: 'GET', path: '/api/lots', status: 200, response: 'LotPage' },
  { method: 'GET', path: '/api/lots/{id}', status: 200, response: 'LotDetail' },
  { method: 'POST', path: '/api/lots/{id}/notes', status: 201, response: 'LotNote' },
  { method: 'GET', path: '/admin/api/worker/status', status: 200, response: 'WorkerStatus' },
  { method: 'POST', path: '/admin/api/worker/restart', status: 202, response: 'RestartAccepted' },
] as const satisfies readonly Endpoint[];
