import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { type BrowserSession as Session, loginWith as login } from '../support/session.js';
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
});
