import { lockTables } from '../support/database.js';
import { ApiError, createApiClient, type ApiClient, type EquipmentStatusReport, type LotPage } from '@rampart/api-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BreakerService, MAIN_DB_BREAKER } from '../../src/resilience/breaker.service.js';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { type BrowserSession as Session, loginWith as login } from '../support/session.js';
import { SESSION_TEST_ENV } from '../support/session.js';
import { browserWire, histogramCount, logMark, serverHits, settle, sleep, type BrowserWire } from './support.js';

// The breaker open (for real: pool of one, tables locked, requests time out in the pool until
// it trips), then a dashboard page of twenty widgets loads through one client.
const OPEN_MS = 1500;
const WIDGET_PATHS = ['/api/lots', '/api/reports/equipment-status'] as const;
// Timestamps are whole ms on both sides (Date.now, pino's ISO time, responseTimeMs).
const CLOCK_SLACK_MS = 3;

interface Retry {
  at: number;
  code: string;
  retryAfterMs: number | null;
  /** The wait the client announced: until its own delay and the shared hold have both passed. */
  delayMs: number;
}

describe('api-client against an open breaker', () => {
  let app: TestApp;
  let breaker: BreakerService;
  let raw: Session;
  const trips: { release(): Promise<void> }[] = [];

  beforeAll(async () => {
    app = await startTestApp({
      DB_POOL_SIZE: '1',
      DB_POOL_MAX_OVERFLOW: '0',
      DB_POOL_TIMEOUT_MS: '300',
      DB_QUERY_TIMEOUT_MS: '10000',
      BREAKER_MIN_VOLUME: '4',
      BREAKER_FAILURE_RATE: '0.5',
      BREAKER_OPEN_MS: String(OPEN_MS),
      // Closed this long and the next trip opens for OPEN_MS again instead of doubling.
      BREAKER_WINDOW_MS: '1000',
      REPORT_CACHE_REFRESH_MS: '600000',
      ...SESSION_TEST_ENV,
    });
    breaker = app.app.get<BreakerService>(MAIN_DB_BREAKER);
    raw = await login(app.url, TEST_ADMIN.username, TEST_ADMIN.password);
  });
  afterEach(async () => {
    // A failed test must not leave the tables locked for the next one.
    await Promise.allSettled(trips.splice(0).map((trip) => trip.release()));
  });
  afterAll(async () => {
    await app?.stop();
  });

  /** Trips the breaker with real pool timeouts; `release()` ends the lock so the database is healthy again. */
  async function tripBreaker(): Promise<{ release(): Promise<void> }> {
    // Closed long enough that this trip opens for OPEN_MS, not a doubled period; and the window
    // empty, so the successes of the sign-in (lookup, last-login update) cannot outvote the four
    // failures below.
    await until(() => breaker.snapshot().consecutiveTrips === 0 && breaker.snapshot().volume === 0);
    const locker = await lockTables(app.db.url, ['lots', 'equipment', 'stations']);
    // Holds the only connection, waiting on the lock.
    const blocked = fetch(`${app.url}/api/lots/1`, { headers: raw.headers() });
    await sleep(100);
    const failures = await Promise.all([0, 1, 2, 3].map(() => fetch(`${app.url}/api/lots?limit=1`, { headers: raw.headers() })));
    expect(failures.map((r) => r.status)).toEqual([503, 503, 503, 503]);
    expect(breaker.snapshot().state).toBe('open');
    let released: Promise<void> | null = null;
    const trip = {
      release: () =>
        (released ??= (async () => {
          await locker.release();
          expect((await blocked).status).toBe(200);
        })()),
    };
    trips.push(trip);
    return trip;
  }

  async function pageClient(): Promise<{ api: ApiClient; wire: BrowserWire; retries: Retry[] }> {
    const wire = browserWire(app.url);
    const retries: Retry[] = [];
    // Login needs the database: wait for a breaker a previous test may have left open.
    await until(() => breaker.snapshot().state !== 'open');
    const api = createApiClient({
      baseUrl: app.url,
      fetch: wire.fetch,
      hooks: {
        onRetry: ({ error, delayMs }) =>
          retries.push({ at: Date.now(), code: error.code, retryAfterMs: error.retryAfterMs, delayMs }),
      },
    });
    await api.login(TEST_ADMIN.username, TEST_ADMIN.password);
    return { api, wire, retries };
  }

  function loadWidgets(api: ApiClient, count: number): Promise<(LotPage | EquipmentStatusReport)[]> {
    return Promise.all(
      Array.from({ length: count }, (_, i) => (i % 2 === 0 ? api.lots.list({ limit: 5 }) : api.reports.equipmentStatus())),
    );
  }

  async function until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
      await sleep(5);
    }
  }

  /** Samples the server-side count every 50 ms until shortly before `holdUntil`; every sample must equal `expected`. */
  async function watchQuietPeriod(since: number, holdUntil: number, expected: number): Promise<number> {
    let samples = 0;
    while (Date.now() < holdUntil - 25) {
      expect(serverHits(app, { path: WIDGET_PATHS, since })).toHaveLength(expected);
      samples += 1;
      await sleep(Math.min(50, Math.max(1, holdUntil - 25 - Date.now())));
    }
    return samples;
  }

  function expectLoaded(results: (LotPage | EquipmentStatusReport)[]): void {
    expect(results).toHaveLength(20);
    for (const result of results) {
      if ('nextCursor' in result) expect(result.items).toHaveLength(5);
      else expect(result.items.length).toBeGreaterThan(0);
    }
  }

  it('twenty widgets started together: one request each, then none until retryAfterMs has passed, then all succeed once the breaker closes', async () => {
    const { api, wire, retries } = await pageClient();
    const trip = await tripBreaker();
    const halfOpenAt = Date.parse(breaker.snapshot().openedAt!) + OPEN_MS;
    const since = logMark(app);
    const sentBefore = wire.sent.length;
    const routeBefore = await histogramCount(app, 'GET', '/api/lots');
    const started = Date.now();

    const widgets = loadWidgets(api, 20);
    // The first wave: every widget sent before any answer came back, so each was sent once.
    await until(() => retries.length >= 20);
    const firstWave = retries.slice(0, 20);
    expect(firstWave.every((r) => r.code === 'DB_CIRCUIT_OPEN')).toBe(true);
    const retryAfter = firstWave.map((r) => r.retryAfterMs!);
    expect(Math.max(...retryAfter)).toBeLessThanOrEqual(OPEN_MS);
    expect(Math.min(...retryAfter)).toBeGreaterThan(0);
    const holdStart = firstWave[0]!.at;
    // What the client waits for: the latest of (answer time + delay). The server computed the
    // delay as "until half-open" before the answer travelled, so the hold ends that much later.
    const holdUntil = Math.max(...firstWave.map((r) => r.at + r.delayMs));
    expect(holdUntil).toBeGreaterThanOrEqual(halfOpenAt - CLOCK_SLACK_MS);
    expect(holdUntil - halfOpenAt).toBeLessThan(250);
    expect(holdUntil).toBeGreaterThanOrEqual(holdStart + firstWave[0]!.retryAfterMs! - CLOCK_SLACK_MS);
    await settle();
    expect(serverHits(app, { path: WIDGET_PATHS, since })).toHaveLength(20);
    expect(wire.sent.length - sentBefore).toBe(20);

    // The database recovers while the page holds; the breaker stays open until its time is up.
    await trip.release();
    const samples = await watchQuietPeriod(since, holdUntil, 20);
    expect(wire.sent.length - sentBefore).toBe(20);

    const results = await widgets;
    await settle();
    expectLoaded(results);
    expect(breaker.snapshot().state).toBe('closed');

    const hits = serverHits(app, { path: WIDGET_PATHS, since });
    const later = hits.slice(20);
    const firstLater = Math.min(...later.map((h) => h.arrivedAt));
    expect(firstLater).toBeGreaterThanOrEqual(holdUntil - CLOCK_SLACK_MS);
    const laterSends = wire.sent.slice(sentBefore + 20);
    expect(Math.min(...laterSends.map((s) => s.at))).toBeGreaterThanOrEqual(holdUntil - 1);
    expect(hits.filter((h) => h.status === 200)).toHaveLength(20);
    expect(hits.length).toBeLessThanOrEqual(20 * 4);
    // The log and the metrics agree on what reached /api/lots.
    expect((await histogramCount(app, 'GET', '/api/lots')) - routeBefore).toBe(hits.filter((h) => h.path === '/api/lots').length);

    const firstWaveEnd = Math.max(...firstWave.map((r) => r.at));
    console.info(
      `[api-client] breaker open, 20 widgets at once: first wave 20 requests; hold from ${holdStart - started} ms, ` +
        `retryAfterMs ${Math.min(...retryAfter)}..${Math.max(...retryAfter)}; no request for ${firstLater - firstWaveEnd} ms after the ` +
        `first wave (server side, ${samples} samples), first later request ${firstLater - holdStart} ms after the hold began ` +
        `(${firstLater - halfOpenAt} ms after half-open, hold ended ${holdUntil - halfOpenAt} ms after it); ${hits.length} requests in all ` +
        `(${hits.filter((h) => h.status === 503).length} answered 503), all 20 widgets loaded after ${Date.now() - started} ms`,
    );
  });

  it('a page whose first widget saw the open circuit: the twenty widgets it then loads send nothing until retryAfterMs has passed', async () => {
    const { api, wire, retries } = await pageClient();
    const trip = await tripBreaker();
    const since = logMark(app);
    const sentBefore = wire.sent.length;

    const first = api.lots.list({ limit: 5 });
    await until(() => retries.length >= 1);
    const [seen] = retries;
    expect(seen!.code).toBe('DB_CIRCUIT_OPEN');
    const holdUntil = seen!.at + seen!.delayMs;
    expect(seen!.delayMs).toBe(seen!.retryAfterMs);

    const widgets = loadWidgets(api, 20);
    await settle();
    expect(serverHits(app, { path: WIDGET_PATHS, since })).toHaveLength(1);
    expect(wire.sent.length - sentBefore).toBe(1);
    await trip.release();
    const samples = await watchQuietPeriod(since, holdUntil, 1);
    expect(wire.sent.length - sentBefore).toBe(1);

    const results = await widgets;
    expect((await first).items).toHaveLength(5);
    await settle();
    expectLoaded(results);

    const hits = serverHits(app, { path: WIDGET_PATHS, since });
    const firstLater = Math.min(...hits.slice(1).map((h) => h.arrivedAt));
    expect(firstLater).toBeGreaterThanOrEqual(holdUntil - CLOCK_SLACK_MS);
    expect(hits.filter((h) => h.status === 200)).toHaveLength(21);
    expect(hits.length).toBeLessThanOrEqual(21 * 4);
    console.info(
      `[api-client] breaker open, 20 widgets after one saw DB_CIRCUIT_OPEN (retryAfterMs ${seen!.retryAfterMs}): ` +
        `0 requests for ${firstLater - seen!.at} ms (server side, ${samples} samples); ${hits.length} requests in all for 21 loads`,
    );
  });

  it('a call that cannot wait out the hold within its budget fails at once with the hold\'s error, sending nothing', async () => {
    const { api, wire, retries } = await pageClient();
    const trip = await tripBreaker();
    const first = api.lots.list({ limit: 5 });
    await until(() => retries.length >= 1);
    const since = logMark(app);
    const sentBefore = wire.sent.length;
    const started = Date.now();
    const error = await api.reports.equipmentStatus({ budgetMs: 100 }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(100);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'DB_CIRCUIT_OPEN', retryable: true });
    expect(wire.sent.length).toBe(sentBefore);
    await settle();
    expect(serverHits(app, { path: WIDGET_PATHS, since })).toHaveLength(0);
    await trip.release();
    expect((await first).items).toHaveLength(5);
  });
});
