import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseService } from '../../src/database/database.service.js';
import { PoolManager } from '../../src/database/pool-manager.js';
import { BreakerService, MAIN_DB_BREAKER } from '../../src/resilience/breaker.service.js';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { lockTables } from '../support/database.js';
import { type BrowserSession as Session, loginWith as login } from '../support/session.js';

const OPEN_MS = 1500;

describe('shared main-database breaker', () => {
  let app: TestApp;
  let session: Session;
  let breaker: BreakerService;

  beforeAll(async () => {
    app = await startTestApp({
      DB_POOL_SIZE: '1',
      DB_POOL_MAX_OVERFLOW: '0',
      DB_POOL_TIMEOUT_MS: '400',
      // Longer than the whole open-circuit check: the held request must not time out (and its
      // connection be discarded) while the test compares the pool before and after.
      DB_QUERY_TIMEOUT_MS: '10000',
      BREAKER_MIN_VOLUME: '4',
      BREAKER_FAILURE_RATE: '0.5',
      BREAKER_OPEN_MS: String(OPEN_MS),
      // Short, so the successes of the first test have left the window when the second starts.
      BREAKER_WINDOW_MS: '1500',
      // Fresh for two intervals (500 ms): by the time the circuit is open the cache is stale.
      REPORT_CACHE_REFRESH_MS: '250',
      RATE_LIMIT_ACCOUNT_PER_MIN: '100000',
    });
    session = await login(app.url, TEST_ADMIN.username, TEST_ADMIN.password);
    breaker = app.app.get<BreakerService>(MAIN_DB_BREAKER);
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('never trips on not-found, validation failures or unique-constraint violations', async () => {
    const db = app.app.get(DatabaseService);
    for (let i = 0; i < 10; i += 1) {
      expect((await fetch(`${app.url}/api/lots/999999`, { headers: session.headers() })).status).toBe(404);
      expect((await fetch(`${app.url}/api/lots?limit=0`, { headers: session.headers() })).status).toBe(400);
      await expect(db.run((m) => m.query(`INSERT INTO stations (code, name) VALUES ('ST01', 'dup')`))).rejects.toMatchObject({
        code: '23505',
      });
    }
    expect(breaker.snapshot().state).toBe('closed');
    expect(breaker.snapshot().failureRate).toBe(0);
  });

  it('opens after the minimum volume of infrastructure failures and then fails fast on every database route without touching the pool', async () => {
    // Hold the only connection behind a lock so every other request waits out the pool timeout.
    const locker = await lockTables(app.db.url, ['lots', 'equipment', 'stations']);
    const pool = app.app.get(PoolManager);
    await new Promise((r) => setTimeout(r, 1600));
    try {
      const blocked = fetch(`${app.url}/api/lots/1`, { headers: session.headers() });
      await new Promise((r) => setTimeout(r, 100));
      const failures = await Promise.all([0, 1, 2, 3].map(() => fetch(`${app.url}/api/lots?limit=1`, { headers: session.headers() })));
      const codes = await Promise.all(failures.map(async (r) => ((await r.json()) as { error: { code: string } }).error.code));
      expect(codes).toEqual(['DB_POOL_EXHAUSTED', 'DB_POOL_EXHAUSTED', 'DB_POOL_EXHAUSTED', 'DB_POOL_EXHAUSTED']);
      expect(breaker.snapshot().state).toBe('open');

      const before = pool.stats();
      const routes = ['/api/lots?limit=1', '/api/lots/1', '/api/reports/equipment-status'];
      const timings: number[] = [];
      for (const route of routes) {
        const started = performance.now();
        const response = await fetch(`${app.url}${route}`, { headers: session.headers() });
        timings.push(performance.now() - started);
        expect(response.status, route).toBe(503);
        const body = (await response.json()) as { error: { code: string; retryAfterMs: number } };
        expect(body.error.code, route).toBe('DB_CIRCUIT_OPEN');
        expect(body.error.retryAfterMs).toBeGreaterThan(0);
        expect(body.error.retryAfterMs).toBeLessThanOrEqual(OPEN_MS);
        expect(response.headers.get('retry-after')).toBe(String(Math.ceil(body.error.retryAfterMs / 1000)));
      }
      // The one cached report keeps serving its last good value, marked stale, without the database.
      await new Promise((r) => setTimeout(r, 600));
      const summary = await fetch(`${app.url}/api/reports/wip-summary`, { headers: session.headers() });
      expect(summary.status).toBe(200);
      const summaryBody = (await summary.json()) as { stale?: boolean; stations: unknown[] };
      expect(summaryBody.stale).toBe(true);
      expect(summaryBody.stations.length).toBeGreaterThan(0);
      const note = await fetch(`${app.url}/api/lots/1/notes`, { method: 'POST', headers: session.headers(), body: JSON.stringify({ text: 'x' }) });
      expect(((await note.json()) as { error: { code: string } }).error.code).toBe('DB_CIRCUIT_OPEN');
      const after = pool.stats();
      expect(after.waiting).toBe(before.waiting);
      expect(after.open).toBe(before.open);
      const slowest = Math.max(...timings);
      // Failing fast means far below the 400 ms pool wait; the ratio is reported in the issue note.
      console.info(`[breaker] open-circuit answers: max ${slowest.toFixed(1)} ms vs pool wait 400 ms (ratio ${(400 / slowest).toFixed(1)}x)`);
      expect(slowest).toBeLessThan(100);
      await locker.release();
      await blocked;
    } finally {
      await locker.release();
    }
  });

  it('lets one probe through after the open period, which closes the circuit when the database is back', async () => {
    const { retryAfterMs } = breaker.snapshot();
    await new Promise((r) => setTimeout(r, (retryAfterMs ?? OPEN_MS) + 100));
    const response = await fetch(`${app.url}/api/lots?limit=1`, { headers: session.headers() });
    expect(response.status).toBe(200);
    expect(breaker.snapshot().state).toBe('closed');
  });
});
