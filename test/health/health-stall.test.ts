import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEALTH_APPLICATION_NAME, HealthDatabase, PROBE_MESSAGES } from '../../src/health/health-database.js';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { ADMIN_URL } from '../support/database.js';
import { getHealth, HEALTH_PATHS, leakedStrings, waitFor } from './health.helpers.js';

const HEALTH_DB_TIMEOUT_MS = 500;
const CACHE_MS = 2000;

/** Health-pool backends PostgreSQL sees doing something (a query, a lock wait), not idle. */
async function busyHealthBackends(database: string): Promise<number> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 AND state IS DISTINCT FROM 'idle'`,
      [database, HEALTH_APPLICATION_NAME],
    );
    return rows[0]?.n ?? 0;
  } finally {
    await client.end();
  }
}

describe('health against a stalled database', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({
      HEALTH_DB_TIMEOUT_MS: String(HEALTH_DB_TIMEOUT_MS),
      HEALTH_CACHE_MS: '0',
      REPORT_CACHE_REFRESH_MS: '600000',
    });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('leaves no health connection busy after ten timed-out readiness checks against a stalled database, and recovers right after', async () => {
    const healthDb = app.app.get(HealthDatabase);
    const locker = new pg.Client({ connectionString: app.db.url });
    await locker.connect();
    let locked = false;
    try {
      await locker.query('BEGIN');
      // The health ping reads this table; the lock stalls it the way a hung server would.
      await locker.query('LOCK TABLE migrations IN ACCESS EXCLUSIVE MODE');
      locked = true;

      const failures = [];
      for (let i = 0; i < 10; i += 1) {
        const ready = await getHealth(app.url, '/health/ready');
        expect(ready.status).toBe(503);
        expect(ready.ms).toBeLessThan(HEALTH_DB_TIMEOUT_MS + 1000);
        failures.push(ready.body);
      }
      for (const body of failures) {
        expect(body.status).toBe('error');
        expect(body.error).toMatchObject({ database: { status: 'down' } });
        expect([PROBE_MESSAGES.dbTimeout, PROBE_MESSAGES.dbConnectTimeout, `timeout of ${HEALTH_DB_TIMEOUT_MS}ms exceeded`]).toContain(
          (body.error?.database as { message?: string } | undefined)?.message,
        );
      }
      const others = await Promise.all(HEALTH_PATHS.map((path) => getHealth(app.url, path)));
      expect(others.map((r) => r.status)).toEqual([200, 503, 503, 503]);
      const forbidden = ['127.0.0.1', 'localhost', 'postgres', app.db.name, TEST_ADMIN.password];
      expect(leakedStrings([...failures, ...others.map((r) => r.body)], forbidden)).toEqual([]);

      // Still stalled: nothing of the health pool may be left waiting on the lock.
      await waitFor('health backends to be free', async () => ((await busyHealthBackends(app.db.name)) === 0 ? true : undefined), 3000);
      expect(healthDb.stats()).toMatchObject({ inUse: 0, waiting: 0 });
    } finally {
      if (locked) await locker.query('ROLLBACK');
      await locker.end();
    }

    const released = Date.now();
    const recovered = await waitFor(
      'readiness to recover',
      async () => {
        const ready = await getHealth(app.url, '/health/ready');
        return ready.status === 200 ? ready : undefined;
      },
      5000,
      20,
    );
    // HEALTH_CACHE_MS is 0 here: one timeout at most, plus slack for a loaded machine.
    expect(Date.now() - released).toBeLessThan(HEALTH_DB_TIMEOUT_MS + 1000);
    expect(recovered.body.details).toMatchObject({ database: { status: 'up' } });
  });
});

describe('memoised health against a stalled database', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({
      HEALTH_CACHE_MS: String(CACHE_MS),
      HEALTH_DB_TIMEOUT_MS: String(HEALTH_DB_TIMEOUT_MS),
      REPORT_CACHE_REFRESH_MS: '600000',
    });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('keeps a failure for one window and recovers within one window plus the timeout once the stall ends', async () => {
    const healthDb = app.app.get(HealthDatabase);
    expect((await getHealth(app.url, '/health/ready')).status).toBe(200);
    const locker = new pg.Client({ connectionString: app.db.url });
    await locker.connect();
    let locked = false;
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE migrations IN ACCESS EXCLUSIVE MODE');
      locked = true;
      // The memoised ok hides the stall for at most one window.
      const failed = await waitFor(
        'readiness to fail',
        async () => {
          const ready = await getHealth(app.url, '/health/ready');
          return ready.status === 503 ? ready : undefined;
        },
        CACHE_MS + 5000,
      );
      expect(failed.body.error).toMatchObject({ database: { status: 'down' } });
      const pingsAfterFailure = healthDb.pings;
      const cached = await getHealth(app.url, '/health/ready');
      expect(cached.status).toBe(503);
      expect(cached.body.details).toMatchObject({ database: { status: 'down', cachedResponse: true } });
      expect(healthDb.pings).toBe(pingsAfterFailure);
    } finally {
      if (locked) await locker.query('ROLLBACK');
      await locker.end();
    }

    const released = Date.now();
    await waitFor(
      'readiness to recover',
      async () => ((await getHealth(app.url, '/health/ready')).status === 200 ? true : undefined),
      CACHE_MS + HEALTH_DB_TIMEOUT_MS + 5000,
      50,
    );
    // One window plus one timeout, plus slack for a loaded machine.
    expect(Date.now() - released).toBeLessThan(CACHE_MS + HEALTH_DB_TIMEOUT_MS + 1000);
  });
});
