import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { lockTables } from '../support/database.js';
import { loginWith, SESSION_TEST_ENV } from '../support/session.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function mainPoolPids(app: TestApp): Promise<number[]> {
  const client = new pg.Client({ connectionString: app.db.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rampart:main' ORDER BY pid`,
    );
    return rows.map((row) => row.pid);
  } finally {
    await client.end();
  }
}

/** HikariCP-style pool and query observability: wait histogram, timeouts, per-statement timings, slow-query line, max lifetime. */
describe('database observability', () => {
  let app: TestApp;
  beforeAll(async () => {
    // One connection, a short wait: a locked query makes the next request time out on the pool.
    app = await startTestApp({ ...SESSION_TEST_ENV, DB_POOL_SIZE: '1', DB_POOL_MAX_OVERFLOW: '0', DB_POOL_TIMEOUT_MS: '300', DB_SLOW_QUERY_MS: '200' });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('logs a slow query with statement, duration, correlation id and route; counts the pool wait that timed out behind it', async () => {
    const session = await loginWith(app.url, TEST_ADMIN.username, TEST_ADMIN.password);
    expect((await session.get('/api/lots/1')).status).toBe(200);
    const lock = await lockTables(app.db.url, ['lots']);
    let slow: Promise<Response>;
    try {
      slow = session.get('/api/lots/1');
      await sleep(150);
      // The only connection is held by the locked query: this one waits 300 ms, then 503.
      const starved = await session.get('/api/lots/2');
      expect(starved.status).toBe(503);
      expect(((await starved.json()) as { error: { code: string } }).error.code).toBe('DB_POOL_EXHAUSTED');
      await sleep(300);
    } finally {
      await lock.release();
    }
    const answered = await slow;
    expect(answered.status).toBe(200);
    const correlationId = answered.headers.get('x-correlation-id');
    const line = app.logs.entries().find((entry) => String(entry.msg).startsWith('slow query') && entry.correlationId === correlationId);
    expect(line, app.logs.lines.filter((l) => l.includes('slow')).join('\n')).toMatchObject({ level: 'warn', statement: 'lots.get', route: '/api/lots/:id', thresholdMs: 200 });
    expect(line!.durationMs as number).toBeGreaterThanOrEqual(400);
    // Fast queries are not logged.
    expect(app.logs.entries().filter((entry) => String(entry.msg).startsWith('slow query') && entry.statement !== 'lots.get')).toEqual([]);

    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metrics).toMatch(/^rampart_db_pool_wait_timeouts_total [1-9]/m);
    expect(metrics).toMatch(/^rampart_db_pool_wait_seconds_count [1-9]/m);
    expect(metrics).toMatch(/^rampart_db_pool_wait_seconds_bucket\{le="0.5"\} [1-9]/m);
    // Named statements, and the slow one landed in a bucket above 0.25 s.
    expect(metrics).toMatch(/^rampart_db_query_duration_seconds_count\{statement="lots.get"\} [2-9]/m);
    expect(metrics).toMatch(/^rampart_db_query_duration_seconds_count\{statement="auth.user_by_name"\} [1-9]/m);
    const fast = Number(/^rampart_db_query_duration_seconds_bucket\{le="0.25",statement="lots.get"\} (\d+)/m.exec(metrics)?.[1]);
    const all = Number(/^rampart_db_query_duration_seconds_count\{statement="lots.get"\} (\d+)/m.exec(metrics)?.[1]);
    expect(all - fast).toBeGreaterThanOrEqual(1);
    // The label set is the code's statement names, never SQL text.
    expect(metrics).not.toMatch(/statement="[^"]*(SELECT|FROM)/i);
  });

  it('DB_CONNECTION_MAX_LIFETIME_S replaces every request-pool connection once it is that old', async () => {
    // Its own database: pg_stat_activity then shows only this app's request pool.
    const short = await startTestApp({ ...SESSION_TEST_ENV, DB_POOL_SIZE: '2', DB_CONNECTION_MAX_LIFETIME_S: '2' });
    try {
      const session = await loginWith(short.url, TEST_ADMIN.username, TEST_ADMIN.password);
      await Promise.all([session.get('/api/lots/1'), session.get('/api/lots/2')]);
      const before = await mainPoolPids(short);
      expect(before.length).toBeGreaterThan(0);
      await sleep(2600);
      for (let i = 0; i < 3; i += 1) expect((await session.get('/api/lots/1')).status).toBe(200);
      const after = await mainPoolPids(short);
      expect(after.length).toBeGreaterThan(0);
      const survivors = before.filter((pid) => after.includes(pid));
      expect(survivors, `before ${before} after ${after}`).toEqual([]);
    } finally {
      await short.stop();
    }
  });
});
