import { lockTables } from '../support/database.js';
import { ApiError, createApiClient, type ApiClient, type RetryEvent } from '@rampart/api-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BreakerService, MAIN_DB_BREAKER } from '../../src/resilience/breaker.service.js';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { type BrowserSession as Session, loginWith as login } from '../support/session.js';
import { SESSION_TEST_ENV } from '../support/session.js';
import { browserWire, histogramCount, logMark, serverHits, settle, sleep, type BrowserWire } from './support.js';

// The pool exhausted (one connection, held by a request waiting on a table lock; everyone
// else times out in the pool queue) while the breaker stays closed (its minimum volume is out
// of reach): every answer is DB_POOL_EXHAUSTED with retryAfterMs, and the client's retries are
// what decides how many requests the server has to turn away.
const POOL_TIMEOUT_MS = 200;
const CALLERS = 8;
const MAX_ATTEMPTS = 3;
const PATHS = ['/api/lots', '/api/reports/equipment-status'] as const;

describe('api-client against an exhausted pool', () => {
  let app: TestApp;
  let raw: Session;
  let release: (() => Promise<void>) | null = null;

  beforeAll(async () => {
    app = await startTestApp({
      DB_POOL_SIZE: '1',
      DB_POOL_MAX_OVERFLOW: '0',
      DB_POOL_TIMEOUT_MS: String(POOL_TIMEOUT_MS),
      DB_QUERY_TIMEOUT_MS: '20000',
      BREAKER_MIN_VOLUME: '100000',
      REPORT_CACHE_REFRESH_MS: '600000',
      ...SESSION_TEST_ENV,
    });
    raw = await login(app.url, TEST_ADMIN.username, TEST_ADMIN.password);
  });
  afterEach(async () => {
    await release?.();
    release = null;
  });
  afterAll(async () => {
    await app?.stop();
  });

  async function exhaustPool(): Promise<void> {
    const locker = await lockTables(app.db.url, ['lots', 'equipment', 'stations']);
    const blocked = fetch(`${app.url}/api/lots/1`, { headers: raw.headers() });
    await sleep(100);
    let done: Promise<void> | null = null;
    release = () =>
      (done ??= (async () => {
        await locker.release();
        expect((await blocked).status).toBe(200);
      })());
  }

  async function client(): Promise<{ api: ApiClient; wire: BrowserWire; retries: RetryEvent[] }> {
    const wire = browserWire(app.url);
    const retries: RetryEvent[] = [];
    const api = createApiClient({ baseUrl: app.url, fetch: wire.fetch, maxAttempts: MAX_ATTEMPTS, hooks: { onRetry: (e) => retries.push(e) } });
    await api.login(TEST_ADMIN.username, TEST_ADMIN.password);
    return { api, wire, retries };
  }

  const load = (api: ApiClient, i: number) => (i % 2 === 0 ? api.lots.list({ limit: 5 }) : api.reports.equipmentStatus());

  it(`${CALLERS} callers with maxAttempts ${MAX_ATTEMPTS}: at most ${CALLERS * MAX_ATTEMPTS} requests reach the server, and every caller gets DB_POOL_EXHAUSTED`, async () => {
    const { api, wire } = await client();
    await exhaustPool();
    const since = logMark(app);
    const sentBefore = wire.sent.length;
    const routeBefore = await histogramCount(app, 'GET', '/api/lots');
    const started = Date.now();

    const outcomes = await Promise.allSettled(Array.from({ length: CALLERS }, (_, i) => load(api, i)));
    const elapsed = Date.now() - started;
    await settle();

    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      const error = (outcome as PromiseRejectedResult).reason as unknown;
      expect(error).toBeInstanceOf(ApiError);
      expect(error).toMatchObject({ code: 'DB_POOL_EXHAUSTED', status: 503, retryable: true, retryAfterMs: 1000 });
    }
    const hits = serverHits(app, { path: PATHS, since });
    expect(hits.every((h) => h.status === 503)).toBe(true);
    expect(hits.length).toBeLessThanOrEqual(CALLERS * MAX_ATTEMPTS);
    expect(wire.sent.length - sentBefore).toBe(hits.length);
    expect((await histogramCount(app, 'GET', '/api/lots')) - routeBefore).toBe(hits.filter((h) => h.path === '/api/lots').length);
    expect(app.app.get<BreakerService>(MAIN_DB_BREAKER).snapshot().state).toBe('closed');

    // The shared hold makes the callers move in waves, one per attempt, a retryAfterMs apart.
    const arrivals = hits.map((h) => h.arrivedAt).sort((a, b) => a - b);
    const waves: number[][] = [];
    for (const at of arrivals) {
      const wave = waves.at(-1);
      if (wave !== undefined && at - wave[0]! < 500) wave.push(at);
      else waves.push([at]);
    }
    expect(waves).toHaveLength(MAX_ATTEMPTS);
    const gaps = waves.slice(1).map((wave, i) => wave[0]! - waves[i]!.at(-1)!);
    // Each later wave starts a retryAfterMs after the previous wave's answers (which took the pool timeout).
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(1000 + POOL_TIMEOUT_MS - 50);
    console.info(
      `[api-client] pool exhausted: ${CALLERS} callers x maxAttempts ${MAX_ATTEMPTS} -> ${hits.length} requests on the server ` +
        `(bound ${CALLERS * MAX_ATTEMPTS}), waves of ${waves.map((w) => w.length).join('/')} ` +
        `${gaps.map((g) => `${g} ms`).join(', ')} apart; all gave up after ${elapsed} ms`,
    );
  });

  it('when the pool frees up during the hold, every caller succeeds on its next attempt', async () => {
    const { api, retries } = await client();
    await exhaustPool();
    const since = logMark(app);

    const calls = Promise.all(Array.from({ length: CALLERS }, (_, i) => load(api, i)));
    while (retries.length < CALLERS) await sleep(5);
    await release!();
    const results = await calls;
    await settle();

    expect(results).toHaveLength(CALLERS);
    const hits = serverHits(app, { path: PATHS, since });
    expect(hits.filter((h) => h.status === 503)).toHaveLength(CALLERS);
    expect(hits.filter((h) => h.status === 200)).toHaveLength(CALLERS);
    expect(hits).toHaveLength(2 * CALLERS);
    console.info(`[api-client] pool recovered during the hold: ${CALLERS} callers, ${hits.length} requests, all succeeded on attempt 2`);
  });
});
