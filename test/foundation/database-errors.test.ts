import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { createUser, type BrowserSession as Session, loginWith as login } from '../support/session.js';
import { countConnections, lockTables } from '../support/database.js';

const lockLots = (url: string) => lockTables(url, ['lots']);

describe('main pool limits and timeouts', () => {
  let app: TestApp;
  let session: Session;
  beforeAll(async () => {
    app = await startTestApp({
      DB_POOL_SIZE: '2',
      DB_POOL_MAX_OVERFLOW: '0',
      DB_POOL_TIMEOUT_MS: '300',
      DB_QUERY_TIMEOUT_MS: '1500',
    });
    session = await login(app.url, TEST_ADMIN.username, TEST_ADMIN.password);
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('answers DB_POOL_EXHAUSTED with Retry-After to the request that cannot get a connection, never exceeding the pool', async () => {
    const lock = await lockLots(app.db.url);
    let peak = 0;
    const sampler = setInterval(() => {
      void countConnections(app.db.name, 'rampart:main').then((n) => (peak = Math.max(peak, n)));
    }, 50);
    try {
      const requests = [0, 1, 2].map(() => fetch(`${app.url}/api/lots?limit=5`, { headers: session.headers() }));
      // The third request waits DB_POOL_TIMEOUT_MS for one of the two connections held behind the lock.
      await new Promise((r) => setTimeout(r, 700));
      const stillWaiting = await countConnections(app.db.name, 'rampart:main');
      await lock.release();
      const responses = await Promise.all(requests);
      const statuses = responses.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 200, 503]);
      const exhausted = responses.find((r) => r.status === 503)!;
      const body = (await exhausted.json()) as { error: Record<string, unknown> };
      expect(body.error).toMatchObject({ code: 'DB_POOL_EXHAUSTED', retryable: true });
      expect(exhausted.headers.get('retry-after')).toBe(String(Math.ceil(Number(body.error.retryAfterMs) / 1000)));
      expect(body.error.correlationId).toBe(exhausted.headers.get('x-correlation-id'));
      expect(stillWaiting).toBeLessThanOrEqual(2);
    } finally {
      clearInterval(sampler);
      await lock.release().catch(() => undefined);
    }
    expect(peak).toBeLessThanOrEqual(2);
  });

  it('cancels a query past DB_QUERY_TIMEOUT_MS on the server and answers DB_QUERY_TIMEOUT', async () => {
    const lock = await lockLots(app.db.url);
    try {
      const started = Date.now();
      const response = await fetch(`${app.url}/api/lots/1`, { headers: session.headers() });
      expect(Date.now() - started).toBeLessThan(4000);
      expect(response.status).toBe(504);
      const body = (await response.json()) as { error: Record<string, unknown> };
      expect(body.error.code).toBe('DB_QUERY_TIMEOUT');
      const active = await app.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'rampart:main' AND state = 'active' AND datname = $1`,
        [app.db.name],
      );
      expect(active[0]!.n).toBe(0);
    } finally {
      await lock.release();
    }
  });

  it('answers a database out of disk (SQLSTATE 53100) with a retryable 503 DB_UNAVAILABLE, not 500', async () => {
    const operator = await createUser(app, 'operator');
    const operatorSession = await login(app.url, operator.username, operator.password);
    // What PostgreSQL raises when it cannot extend a file; raised by a trigger so only this insert meets it.
    await app.db.query(`CREATE FUNCTION test_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'; END $$`);
    await app.db.query('CREATE TRIGGER test_disk_full BEFORE INSERT ON lot_notes FOR EACH ROW EXECUTE FUNCTION test_disk_full()');
    try {
      const response = await operatorSession.post('/api/lots/1/notes', { text: 'disk is full' });
      const body = (await response.json()) as { error: Record<string, unknown> };
      expect(response.status).toBe(503);
      expect(body.error).toMatchObject({ code: 'DB_UNAVAILABLE', retryable: true });
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await app.db.query('DROP TRIGGER test_disk_full ON lot_notes');
      await app.db.query('DROP FUNCTION test_disk_full()');
    }
    // The connection was healthy all along; the next note goes through.
    const after = await operatorSession.post('/api/lots/1/notes', { text: 'disk has room again' });
    expect(after.status).toBe(201);
  });
});
