import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolManager } from '../../src/database/pool-manager.js';
import { HEALTH_APPLICATION_NAME, HealthDatabase } from '../../src/health/health-database.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { ADMIN_URL, countConnections, type TestDatabase } from '../support/database.js';
import { burst, getHealth, waitFor } from './health.helpers.js';

// One file on purpose: vitest runs files in parallel, and the 1000-request storm would steal
// the CPU from the liveness latency measurement if the two could overlap.

/**
 * The claim is "one ping per window", whatever the window's length; the storm's window is
 * long because 1000 in-process requests can take seconds on a loaded two-core machine, and a
 * storm that outlasts its window would rightly cost a second ping.
 */
const STORM_CACHE_MS = 15_000;

function p99(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.ceil(sorted.length * 0.99) - 1] ?? Number.NaN;
}

/**
 * Reads of the table the health ping touches, as PostgreSQL counts them. Nothing else reads
 * it after migrations, so the delta is the number of pings the server executed.
 */
async function migrationsTableReads(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      `SELECT (coalesce(seq_scan, 0) + coalesce(idx_scan, 0))::text AS n FROM pg_stat_user_tables WHERE relname = 'migrations'`,
    );
    return Number(rows[0]?.n ?? Number.NaN);
  } finally {
    await client.end();
  }
}

/**
 * Table statistics reach the shared counters when a backend flushes them: when idle, at most
 * every few seconds (up to 10 s in PostgreSQL 15), and always when it exits. Ending every
 * backend of `applicationName` makes the reading final instead of eventually right.
 */
async function finalReads(db: TestDatabase, applicationName: string): Promise<number> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2', [db.name, applicationName]);
  } finally {
    await admin.end();
  }
  await waitFor(`${applicationName} backends to exit`, async () => ((await countConnections(db.name, applicationName)) === 0 ? true : undefined), 10_000);
  return migrationsTableReads(db.url);
}

describe('health with every main-pool connection held', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({
      DB_POOL_SIZE: '2',
      DB_POOL_MAX_OVERFLOW: '0',
      // Waiters and sleepers must outlast the measurements, even on a slow machine.
      DB_POOL_TIMEOUT_MS: '60000',
      DB_QUERY_TIMEOUT_MS: '60000',
      HEALTH_CACHE_MS: '0',
      REPORT_CACHE_REFRESH_MS: '600000',
    });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('answers liveness fast, readiness within 1 s and shows saturation in /health/deep while every main-pool connection is held', async () => {
    const pool = app.app.get(PoolManager);
    const work: Promise<unknown>[] = [];
    const swallow = () => undefined;
    for (let i = 0; i < 2; i += 1) work.push(pool.withConnection((m) => m.query('SELECT pg_sleep(45)')).catch(swallow));
    for (let i = 0; i < 3; i += 1) work.push(pool.withConnection((m) => m.query('SELECT 1')).catch(swallow));
    try {
      await waitFor('the main pool to be held with waiters', async () => {
        const stats = pool.stats();
        return stats.inUse === 2 && stats.waiting >= 3 ? stats : undefined;
      }, 10_000, 20);

      for (let i = 0; i < 10; i += 1) await getHealth(app.url, '/health/live');
      // 200 samples so p99 is a percentile, not the single worst hiccup. Up to five rounds, a
      // pause between them: on a shared two-core machine a neighbour can starve this whole
      // process for a while, which no design of the endpoint can prevent; a liveness that
      // waited on the held pool (or was merely slow) fails every round.
      const rounds: number[] = [];
      for (let round = 0; round < 5 && !rounds.some((ms) => ms < 50); round += 1) {
        if (round > 0) await new Promise((r) => setTimeout(r, 500));
        const timings: number[] = [];
        for (let i = 0; i < 200; i += 1) {
          const live = await getHealth(app.url, '/health/live');
          expect(live.status).toBe(200);
          timings.push(live.ms);
        }
        rounds.push(p99(timings));
      }
      expect(Math.min(...rounds), `p99 per round: ${rounds.map((ms) => ms.toFixed(1)).join(', ')} ms`).toBeLessThan(50);
      expect(pool.stats().waiting).toBeGreaterThan(0);

      const ready = await getHealth(app.url, '/health/ready');
      expect(ready.status).toBe(200);
      expect(ready.body.status).toBe('ok');
      expect(ready.ms).toBeLessThan(1000);

      const deep = await getHealth(app.url, '/health/deep');
      expect(deep.status).toBe(200);
      expect(deep.body.resilience?.pool).toMatchObject({ size: 2, inUse: 2, idle: 0, saturation: 1 });
      expect(deep.body.resilience?.pool.waiting).toBeGreaterThan(0);
      expect(['throttle', 'recover']).toContain(deep.body.resilience?.recommendation);
      expect(deep.body.details).toMatchObject({ mainPool: { inUse: 2, saturation: 1 }, database: { status: 'up' } });
      expect(pool.stats().inUse).toBe(2); // still held: the answers above were not luck of timing
    } finally {
      // End the sleeps rather than wait them out.
      const admin = new pg.Client({ connectionString: ADMIN_URL });
      await admin.connect();
      await admin.query(
        `SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'rampart:main' AND query LIKE '%pg_sleep%'`,
        [app.db.name],
      );
      await admin.end();
      await Promise.all(work);
    }
  });
});

describe('health under a probe storm', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ HEALTH_CACHE_MS: String(STORM_CACHE_MS), REPORT_CACHE_REFRESH_MS: '600000' });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('costs exactly one database ping for 1000 concurrent /health requests inside one cache window', async () => {
    const healthDb = app.app.get(HealthDatabase);
    // Warm sockets, router and JIT on a path that never pings, so the burst measures the steady state.
    await burst(`${app.url}/health/live`, 500);
    // Migrations read the table too; their connections are gone once the app listens.
    await waitFor('migration backends to exit', async () => ((await countConnections(app.db.name, 'rampart:migrate')) === 0 ? true : undefined), 10_000);
    const before = await migrationsTableReads(app.db.url);
    const pingsBefore = healthDb.pings;

    const result = await burst(`${app.url}/health`, 1000);
    expect(result.statuses.every((s) => s === 200)).toBe(true);
    expect(result.bodies.every((b) => b.status === 'ok')).toBe(true);
    expect(result.ms).toBeLessThan(STORM_CACHE_MS);
    // Every answer carries the outcome of the same single run.
    const times = new Set(result.bodies.map((b) => (b.details.database as { responseTime?: number }).responseTime));
    expect(times.size).toBe(1);

    expect(healthDb.pings - pingsBefore).toBe(1);
    expect((await finalReads(app.db, HEALTH_APPLICATION_NAME)) - before).toBe(1);
  });
});
