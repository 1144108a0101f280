import { LATENCY_BOUNDS_MS, TELEMETRY_BUCKET_MS, type LogLine, type TelemetryView } from '../../cluster/protocol.js';

/** ok: green; warn: amber (degraded but serving); bad: red (down, refusing, open). */
export type Tone = 'ok' | 'warn' | 'bad';

export interface StatusRow {
  name: string;
  state: string;
  reason: string;
  tone: Tone;
}

/** The parts of a `/health/deep` payload the strip reads (Terminus result + resilience block). */
export interface DeepHealth {
  status: string;
  details?: Record<string, Record<string, unknown> & { status?: string }>;
  resilience?: {
    pool: { size: number; inUse: number; waiting: number; saturation: number };
    breaker: { state: string; failureRate: number; retryAfterMs: number | null };
    load: { limit: number | null; inFlight: number; shedRate: number };
    recommendation: string;
  };
}

const str = (value: unknown): string => (typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value));

/**
 * The console's status strip, read off the very payload `/health/deep` answers (no second
 * opinion): readiness is the same dependency set `/health/ready` checks (lifecycle, database
 * through the health pool, Redis when configured).
 */
export function statusRows(health: DeepHealth): StatusRow[] {
  const d = health.details ?? {};
  const rows: StatusRow[] = [];
  const up = (key: string) => d[key]?.status === 'up';
  const reasonOf = (key: string) => str(d[key]?.['message'] ?? d[key]?.['error'] ?? '');

  const failing = ['lifecycle', 'database', 'redis'].filter((key) => d[key] !== undefined && !up(key));
  rows.push({
    name: 'readiness',
    state: failing.length === 0 ? 'ready' : 'not ready',
    reason: failing.length === 0 ? 'lifecycle, database and Redis checks pass' : `failing: ${failing.map((key) => `${key} (${reasonOf(key) || d[key]?.status})`).join(', ')}`,
    tone: failing.length === 0 ? 'ok' : 'bad',
  });
  const db = d['database'];
  rows.push({
    name: 'database',
    state: db === undefined ? 'not checked' : db.status === 'up' ? 'up' : 'down',
    reason: db === undefined ? 'not pinged while draining' : db.status === 'up' ? 'ping through the health pool answered' : reasonOf('database') || 'ping failed',
    tone: db === undefined ? 'warn' : db.status === 'up' ? 'ok' : 'bad',
  });
  const hp = d['healthPool'];
  rows.push({
    name: 'health pool',
    state: hp === undefined ? 'unknown' : `${str(hp['inUse'] ?? '?')} in use / ${str(hp['max'] ?? hp['size'] ?? '?')}`,
    reason: hp === undefined ? '' : `pings ${str(hp['pings'] ?? '?')}, waiting ${str(hp['waiting'] ?? 0)}`,
    tone: db !== undefined && db.status !== 'up' ? 'bad' : 'ok',
  });
  const pool = health.resilience?.pool;
  const recommendation = health.resilience?.recommendation ?? 'observe';
  rows.push({
    name: 'main pool',
    state: pool ? `${pool.inUse} in use / ${pool.size}, ${pool.waiting} waiting` : 'unknown',
    reason: pool ? `saturation ${Math.round(pool.saturation * 100)} %, recommendation ${recommendation}` : '',
    tone: !pool ? 'warn' : pool.saturation >= 1 && pool.waiting > 0 ? 'bad' : recommendation === 'observe' ? 'ok' : 'warn',
  });
  const redis = d['redis'];
  rows.push({
    name: 'redis',
    state: redis === undefined ? 'not configured' : redis.status === 'up' ? 'up' : 'down',
    reason: redis === undefined ? 'single instance: sessions and limits in memory' : redis.status === 'up' ? 'ping answered' : reasonOf('redis') || 'ping failed',
    tone: redis === undefined || redis.status === 'up' ? 'ok' : 'bad',
  });
  const breaker = health.resilience?.breaker;
  const breakerState = breaker?.state ?? str(d['breaker']?.['state']);
  rows.push({
    name: 'breaker',
    state: breakerState || 'unknown',
    reason: breaker
      ? `failure rate ${Math.round(breaker.failureRate * 100)} %${breaker.retryAfterMs !== null ? `, next try in ${Math.ceil(breaker.retryAfterMs / 1000)} s` : ''}`
      : '',
    tone: breakerState === 'closed' ? 'ok' : breakerState === 'open' ? 'bad' : 'warn',
  });
  const load = health.resilience?.load;
  rows.push({
    name: 'load shedding',
    state: !load ? 'unknown' : load.shedRate > 0 ? `shedding ${Math.round(load.shedRate * 1000) / 10} %` : 'not shedding',
    reason: !load ? '' : `${load.inFlight} in flight, limit ${load.limit ?? 'off'}`,
    tone: !load ? 'warn' : load.shedRate >= 0.1 ? 'bad' : load.shedRate > 0 ? 'warn' : 'ok',
  });
  return rows;
}

export interface Series {
  name: string;
  /** One value per bucket of the window, null where there is no data. */
  points: (number | null)[];
}

export interface IncidentHistory {
  /** Bucket start times, oldest first. */
  times: number[];
  requestRate: Series[];
  errorRate: Series[];
  latency: Series[];
  pool: Series[];
  breaker: Series[];
  shedRate: Series[];
  rss: Series[];
}

const PER_SECOND = 1000 / TELEMETRY_BUCKET_MS;
const ERROR_SERIES_MAX = 6;

/** The latency histogram's upper bound at quantile q (ms); overflow counts as the last bound. */
export function quantileMs(counts: number[], q: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i += 1) {
    seen += counts[i] ?? 0;
    if (seen >= rank) return LATENCY_BOUNDS_MS[Math.min(i, LATENCY_BOUNDS_MS.length - 1)]!;
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]!;
}

/**
 * Every worker's buckets summed per 10 s slot over the last `minutes` (counts add, gauges take
 * the worst worker), plus one RSS line per worker.
 */
export function aggregate(view: TelemetryView, minutes: number, now: number): IncidentHistory {
  const n = Math.max(1, Math.round((minutes * 60_000) / TELEMETRY_BUCKET_MS));
  const last = Math.floor(now / TELEMETRY_BUCKET_MS) * TELEMETRY_BUCKET_MS;
  const times = Array.from({ length: n }, (_, i) => last - (n - 1 - i) * TELEMETRY_BUCKET_MS);
  const index = new Map(times.map((t, i) => [t, i]));
  const blank = () => new Array<number | null>(n).fill(null);
  const requests = blank();
  const saturation = blank();
  const waiting = blank();
  const breaker = blank();
  const shed = blank();
  const latency: number[][] = times.map(() => new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0));
  const errors = new Map<string, (number | null)[]>();
  const rss: Series[] = [];
  const add = (arr: (number | null)[], i: number, v: number) => (arr[i] = (arr[i] ?? 0) + v);
  const max = (arr: (number | null)[], i: number, v: number) => (arr[i] = Math.max(arr[i] ?? 0, v));
  for (const worker of view.workers) {
    const rssPoints = blank();
    let any = false;
    for (const b of worker.buckets) {
      const i = index.get(b.t);
      if (i === undefined) continue;
      any = true;
      add(requests, i, b.requests);
      for (const [code, count] of Object.entries(b.errors)) {
        let series = errors.get(code);
        if (!series) errors.set(code, (series = blank()));
        add(series, i, count);
      }
      b.latency.forEach((count, k) => (latency[i]![k] = (latency[i]![k] ?? 0) + count));
      max(saturation, i, b.poolSaturation);
      max(waiting, i, b.poolWaiting);
      max(breaker, i, b.breaker);
      add(shed, i, b.shed);
      rssPoints[i] = Math.round((b.rssBytes / 1048576) * 10) / 10;
    }
    if (any) rss.push({ name: `worker ${worker.id} (slot ${worker.slot}, pid ${worker.pid ?? '?'})${worker.alive ? '' : ', exited'}`, points: rssPoints });
  }
  const rate = (arr: (number | null)[]) => arr.map((v) => (v === null ? null : Math.round(v * PER_SECOND * 100) / 100));
  // Codes that had any error in the window, most frequent first; every slot with data counts 0.
  const codes = [...errors.entries()]
    .map(([code, points]) => ({ code, total: points.reduce<number>((a, b) => a + (b ?? 0), 0) }))
    .sort((a, b) => b.total - a.total || a.code.localeCompare(b.code))
    .slice(0, ERROR_SERIES_MAX);
  return {
    times,
    requestRate: [{ name: 'requests/s', points: rate(requests) }],
    errorRate: codes.map(({ code }) => ({ name: code, points: rate(errors.get(code)!.map((v, i) => (v === null && requests[i] !== null ? 0 : v))) })),
    latency: [
      { name: 'p50 ms', points: latency.map((counts) => quantileMs(counts, 0.5)) },
      { name: 'p99 ms', points: latency.map((counts) => quantileMs(counts, 0.99)) },
    ],
    pool: [
      { name: 'saturation %', points: saturation.map((v) => (v === null ? null : Math.round(v * 100))) },
      { name: 'waiting', points: waiting },
    ],
    breaker: [{ name: '0 closed, 1 half-open, 2 open', points: breaker }],
    shedRate: [{ name: 'shed/s', points: rate(shed) }],
    rss,
  };
}

export interface RecentLine extends LogLine {
  /** Which process wrote it. */
  source: string;
}

/** Every process's recent warn/error lines, newest first. */
export function recentLines(view: TelemetryView, limit: number): RecentLine[] {
  const lines: RecentLine[] = [];
  for (const worker of view.workers) for (const line of worker.logs) lines.push({ ...line, source: `worker ${worker.id} pid ${worker.pid ?? '?'}` });
  for (const line of view.primaryLogs) lines.push({ ...line, source: 'primary' });
  return lines.sort((a, b) => b.at.localeCompare(a.at)).slice(0, limit);
}
