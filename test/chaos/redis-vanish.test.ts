import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { spawnApp, type AppProcess } from '../support/process.js';
import { startOwnRedis, type OwnRedis } from '../support/redis.js';
import { createUser, loginWith, SESSION_TEST_ENV, type TestUser } from '../support/session.js';
import { FaultProxy } from './support/fault-proxy.js';
import { recoveryMs, sleep, UserLoad, verifyWrites, waitFor, type LoadResult } from './support/user-load.js';
import { reportFigures } from './support/figures.js';

/**
 * Redis behind the fault proxy while logged-in users work. The promise (issue 12, part 3): a
 * silently dead Redis socket is noticed and replaced within seconds, service is back within 5 s
 * of a healthy Redis answering, and meanwhile every answer is an honest, retryable
 * SESSION_STORE_UNAVAILABLE; nothing Redis does ends the process.
 *
 * The built app runs as a child process: an unhandled 'error' from a Redis socket would end it,
 * and its exit is what this file watches for.
 */

const SOCKET_TIMEOUT_MS = 1000;
const HEARTBEAT_MS = 500;
const RECOVERY_BOUND_MS = 5000;

describe('Redis faults under user load', () => {
  let redis: OwnRedis;
  let proxy: FaultProxy;
  let db: TestDatabase;
  let app: AppProcess;
  let users: TestUser[];
  const figures: Record<string, unknown> = {};

  beforeAll(async () => {
    redis = await startOwnRedis();
    proxy = await FaultProxy.start({ host: '127.0.0.1', port: redis.port });
    db = await createTestDatabase();
    app = await spawnApp({
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      DATABASE_URL: db.url,
      REDIS_URL: proxy.url(redis.url),
      REDIS_SOCKET_TIMEOUT_MS: String(SOCKET_TIMEOUT_MS),
      REDIS_HEARTBEAT_MS: String(HEARTBEAT_MS),
      SEED_LOTS: '10',
      ADMIN_BOOTSTRAP_PASSWORD: 'chaos-admin-password-1',
      SHUTDOWN_DRAIN_DELAY_MS: '0',
      ...SESSION_TEST_ENV,
    });
    users = await Promise.all([0, 1, 2, 3].map(() => createUser({ db }, 'operator')));
  });

  afterAll(async () => {
    reportFigures(`redis chaos figures: ${JSON.stringify(figures)}`);
    if (app) {
      app.kill('SIGTERM');
      await Promise.race([app.exited, sleep(10_000)]);
      app.kill('SIGKILL');
    }
    await proxy?.close();
    await redis?.stop();
    await db?.drop();
  });

  const ready = async () => (await fetch(`${app.url}/health/ready`)).status === 200;

  /**
   * Load for `healthyMs`, then `fault` for `faultMs`, then `pass()`. Returns the load's result
   * and the measured recovery of both the users and readiness, from the moment of `pass()`.
   */
  async function scenario(name: string, fault: () => void, faultMs: number) {
    expect(await ready(), `${name}: ready before the fault`).toBe(true);
    const probe = await loginWith(app.url, users[0]!.username, users[0]!.password);
    const load = await UserLoad.start(app.url, users, { pauseMs: 25, requestTimeoutMs: 10_000 });
    await sleep(800);
    fault();
    await sleep(faultMs);
    const faultEnded = Date.now();
    const readyDuringFault = await ready();
    // What a client sees at the end of the fault, first hand.
    const answer = await probe.get('/api/lots?limit=1');
    const duringFault = {
      status: answer.status,
      code: answer.status === 503 ? ((await answer.json()) as { error: { code: string } }).error.code : null,
      retryAfter: answer.headers.get('retry-after'),
    };
    const healedAt = Date.now();
    proxy.pass();
    const readinessMs = await waitFor(ready, 8000, 50);
    // Enough time after the heal for five OK requests in a row, bounded either way.
    await sleep(Math.min(8000, (readinessMs ?? 8000) + 2500));
    const result = await load.stop();
    const recovery = recoveryMs(result.samples, healedAt);
    const verdict = await verifyWrites(db.url, result.writes);
    figures[name] = {
      recoveryMs: recovery,
      readinessMs,
      requests: result.requests,
      statuses: result.statuses,
      codes: result.codes,
      fetchErrors: result.fetchErrors,
      readinessCheckDuringFaultMs: healedAt - faultEnded,
    };
    return { result, recovery, readinessMs, verdict, readyDuringFault, duringFault };
  }

  function expectHonest(result: LoadResult, verdict: Awaited<ReturnType<typeof verifyWrites>>): void {
    expect(result.violations).toEqual([]);
    expect(result.statuses['500']).toBeUndefined();
    expect(result.fetchErrors).toEqual({});
    // Only success or the session store's honest refusal.
    expect(Object.keys(result.statuses).filter((status) => !['200', '201', '503'].includes(status))).toEqual([]);
    expect(Object.keys(result.codes).filter((code) => code !== 'SESSION_STORE_UNAVAILABLE')).toEqual([]);
    expect(verdict.missing).toEqual([]);
    expect(verdict.duplicates).toEqual([]);
    expect(app.child.exitCode).toBeNull();
  }

  it('vanish (no FIN, no RST) for 4 s: the dead socket is replaced and service is back within 5 s of pass()', async () => {
    const { result, recovery, readinessMs, verdict, readyDuringFault, duringFault } = await scenario('vanish', () => proxy.vanish(), 4000);
    expect(readyDuringFault).toBe(false);
    expect(duringFault).toEqual({ status: 503, code: 'SESSION_STORE_UNAVAILABLE', retryAfter: expect.stringMatching(/^\d+$/) });
    expect(result.codes.SESSION_STORE_UNAVAILABLE ?? 0).toBeGreaterThan(0);
    expect(readinessMs).not.toBeNull();
    expect(readinessMs!).toBeLessThanOrEqual(RECOVERY_BOUND_MS);
    expect(recovery).not.toBeNull();
    expect(recovery!).toBeLessThanOrEqual(RECOVERY_BOUND_MS);
    expectHonest(result, verdict);
  });

  it('refuse + reset every connection for 3 s: 503 SESSION_STORE_UNAVAILABLE with Retry-After, never 500, back within 5 s', async () => {
    const { result, recovery, readinessMs, verdict, readyDuringFault, duringFault } = await scenario(
      'refuse+reset',
      () => {
        proxy.refuse();
        proxy.resetAll();
      },
      3000,
    );
    expect(readyDuringFault).toBe(false);
    expect(duringFault).toEqual({ status: 503, code: 'SESSION_STORE_UNAVAILABLE', retryAfter: expect.stringMatching(/^\d+$/) });
    expect(result.codes.SESSION_STORE_UNAVAILABLE ?? 0).toBeGreaterThan(0);
    expect(readinessMs!).toBeLessThanOrEqual(RECOVERY_BOUND_MS);
    expect(recovery).not.toBeNull();
    expect(recovery!).toBeLessThanOrEqual(RECOVERY_BOUND_MS);
    expectHonest(result, verdict);
  });

  it('stall for 3 s, then pass: back within 5 s', async () => {
    const { result, recovery, readinessMs, verdict } = await scenario('stall', () => proxy.stall(), 3000);
    expect(result.codes.SESSION_STORE_UNAVAILABLE ?? 0).toBeGreaterThan(0);
    expect(readinessMs!).toBeLessThanOrEqual(RECOVERY_BOUND_MS);
    expect(recovery).not.toBeNull();
    expect(recovery!).toBeLessThanOrEqual(RECOVERY_BOUND_MS);
    expectHonest(result, verdict);
  });

  it('the process is still the one that started', () => {
    expect(app.child.exitCode).toBeNull();
    expect(app.child.signalCode).toBeNull();
    expect(app.output()).not.toMatch(/Unhandled 'error' event|unhandledRejection|uncaughtException/);
  });
});
