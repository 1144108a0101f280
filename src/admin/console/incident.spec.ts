import { describe, expect, it } from 'vitest';
import type { TelemetryBucket, TelemetryView } from '../../cluster/protocol.js';
import { renderIncident } from './incident-view.js';
import { aggregate, type DeepHealth, quantileMs, recentLines, statusRows } from './incident.js';

const healthy: DeepHealth = {
  status: 'ok',
  details: {
    lifecycle: { status: 'up' },
    database: { status: 'up' },
    healthPool: { status: 'up', inUse: 0, max: 2, pings: 3 },
    breaker: { status: 'up', state: 'closed' },
  },
  resilience: {
    pool: { size: 10, inUse: 1, waiting: 0, saturation: 0.1 },
    breaker: { state: 'closed', failureRate: 0, retryAfterMs: null },
    load: { limit: 64, inFlight: 1, shedRate: 0 },
    recommendation: 'observe',
  },
};

const tones = (health: DeepHealth) => Object.fromEntries(statusRows(health).map((row) => [row.name, row.tone]));

describe('statusRows (the strip, read off /health/deep)', () => {
  it('is all green when /health/deep is', () => {
    expect(Object.values(tones(healthy))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
  });

  it('a database that does not answer makes readiness, database and the health pool red, with the reason', () => {
    const down: DeepHealth = {
      ...healthy,
      status: 'error',
      details: { ...healthy.details, database: { status: 'down', message: 'database connection timed out' } },
      resilience: { ...healthy.resilience!, breaker: { state: 'open', failureRate: 0.8, retryAfterMs: 2500 }, recommendation: 'recover' },
    };
    const rows = statusRows(down);
    expect(tones(down)).toMatchObject({ readiness: 'bad', database: 'bad', 'health pool': 'bad', breaker: 'bad', 'main pool': 'warn' });
    expect(rows.find((r) => r.name === 'readiness')?.reason).toContain('database (database connection timed out)');
    expect(rows.find((r) => r.name === 'breaker')?.reason).toContain('next try in 3 s');
  });

  it('Redis down and shedding are red; Redis absent is single-instance, not an outage', () => {
    const bad: DeepHealth = {
      ...healthy,
      details: { ...healthy.details, redis: { status: 'down', message: 'redis not connected' } },
      resilience: { ...healthy.resilience!, load: { limit: 8, inFlight: 8, shedRate: 0.4 } },
    };
    expect(tones(bad)).toMatchObject({ redis: 'bad', 'load shedding': 'bad', readiness: 'bad' });
    expect(statusRows(healthy).find((r) => r.name === 'redis')?.state).toBe('not configured');
  });
});

function bucket(t: number, over: Partial<TelemetryBucket> = {}): TelemetryBucket {
  return { t, requests: 0, errors: {}, latency: new Array(12).fill(0), poolSaturation: 0, poolWaiting: 0, breaker: 0, shed: 0, rssBytes: 0, heapUsedBytes: 0, ...over };
}

describe('aggregate (across workers)', () => {
  const now = 1_000_000;
  const view: TelemetryView = {
    mode: 'cluster',
    primaryLogs: [],
    workers: [
      { id: 1, slot: 0, pid: 11, alive: true, logs: [], buckets: [bucket(990_000, { requests: 10, errors: { DB_QUERY_TIMEOUT: 2 }, poolWaiting: 3, breaker: 1, rssBytes: 100 * 1048576 })] },
      { id: 2, slot: 1, pid: 12, alive: false, logs: [], buckets: [bucket(1_000_000, { requests: 20, errors: { OVERLOADED: 5 }, shed: 5, breaker: 2 }), bucket(990_000, { requests: 30, poolWaiting: 1 })] },
    ],
  };

  it('sums counts per 10 s slot, keeps the worst gauge, and draws one RSS line per worker', () => {
    const h = aggregate(view, 15, now);
    expect(h.times).toHaveLength(90);
    expect(h.times.at(-1)).toBe(1_000_000);
    expect(h.requestRate[0]!.points.slice(-2)).toEqual([4, 2]);
    expect(h.pool[1]!.points.slice(-2)).toEqual([3, 0]);
    expect(h.breaker[0]!.points.slice(-2)).toEqual([1, 2]);
    expect(h.shedRate[0]!.points.slice(-2)).toEqual([0, 0.5]);
    expect(h.errorRate.map((s) => s.name)).toEqual(['OVERLOADED', 'DB_QUERY_TIMEOUT']);
    // A slot with requests but no error of a code is 0 for it, not a gap.
    expect(h.errorRate.find((s) => s.name === 'DB_QUERY_TIMEOUT')!.points.slice(-2)).toEqual([0.2, 0]);
    expect(h.rss.map((s) => s.name)).toEqual(['worker 1 (slot 0, pid 11)', 'worker 2 (slot 1, pid 12), exited']);
    expect(h.requestRate[0]!.points[0]).toBeNull();
  });

  it('quantiles come from the merged histogram (bucket upper bounds)', () => {
    const counts = new Array(12).fill(0);
    counts[1] = 98; // <= 10 ms
    counts[7] = 2; // <= 1000 ms
    expect(quantileMs(counts, 0.5)).toBe(10);
    expect(quantileMs(counts, 0.99)).toBe(1000);
    expect(quantileMs(new Array(12).fill(0), 0.5)).toBeNull();
  });
});

describe('renderIncident', () => {
  it('escapes every value and carries no script', () => {
    const hostile = '</td><script>alert(1)</script>';
    const view: TelemetryView = {
      mode: 'single',
      primaryLogs: [],
      workers: [{ id: 0, slot: 0, pid: 1, alive: true, buckets: [bucket(1_000_000, { requests: 1 })], logs: [{ seq: 1, at: '2025-01-01T00:00:00.000Z', level: 'error', msg: hostile, correlationId: hostile, errorCode: 'INTERNAL', route: null, status: 500 }] }],
    };
    const html = renderIncident({
      generatedAt: '2025-01-01T00:00:00.000Z',
      minutes: 15,
      overall: 'error',
      rows: [{ name: hostile, state: hostile, reason: hostile, tone: 'bad' }],
      history: aggregate(view, 15, 1_000_000),
      historyError: null,
      lines: recentLines(view, 10),
    });
    expect(html).not.toContain('<script');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('id="chart-errors"');
  });

  it('says why there is no history instead of drawing empty charts', () => {
    const html = renderIncident({ generatedAt: '2025-01-01T00:00:00.000Z', minutes: 15, overall: 'ok', rows: [], history: null, historyError: 'SUPERVISOR_TIMEOUT', lines: [] });
    expect(html).toContain('History unavailable: SUPERVISOR_TIMEOUT');
  });
});
