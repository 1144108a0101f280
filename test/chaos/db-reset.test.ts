import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { spawnApp, type AppProcess } from '../support/process.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { createUser, SESSION_TEST_ENV } from '../support/session.js';
import { FaultProxy } from './support/fault-proxy.js';
import { recoveryMs, sleep, UserLoad, verifyWrites } from './support/user-load.js';
import { reportFigures } from './support/figures.js';

/*
 * PostgreSQL connections reset (RST) while logged-in users' queries are in flight. Before the
 * fix the first reset crashed the worker with an unhandled 'error' event on a pg Client.
 */
describe('chaos: PostgreSQL connections reset under load', () => {
  let db: TestDatabase | null = null;
  let proxy: FaultProxy | null = null;
  let proc: AppProcess | null = null;
  afterEach(async () => {
    proc?.kill('SIGKILL');
    if (proc) await proc.exited;
    await proxy?.close();
    await db?.drop();
    proc = null;
    proxy = null;
    db = null;
  });

  it.each([
    ['WORKERS=1', {}],
    ['WORKERS=2', { WORKERS: '2', REDIS_URL: SHARED_REDIS_URL }],
  ])('%s: no process exits, every answer has a contract code, service is back within 5 s, no write lost or doubled', async (_name, extraEnv: Record<string, string>) => {
    db = await createTestDatabase('rampart_chaos');
    proxy = await FaultProxy.start({ host: new URL(db.url).hostname, port: Number(new URL(db.url).port || 5432) });
    proc = await spawnApp({
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      DATABASE_URL: proxy.url(db.url),
      SEED_LOTS: '10',
      ADMIN_BOOTSTRAP_PASSWORD: 'chaos-admin-password',
      REDIS_KEY_PREFIX: uniquePrefix(),
      SHUTDOWN_DRAIN_DELAY_MS: '0',
      ...SESSION_TEST_ENV,
      ...extraEnv,
    });
    const users = await Promise.all([0, 1, 2, 3].map(() => createUser({ db: db! }, 'operator')));
    const load = await UserLoad.start(proc.url, users, { pauseMs: 10 });
    await sleep(800);

    // Latency keeps every query on the wire long enough for the resets to catch some in flight.
    proxy.latency(40);
    for (let round = 0; round < 4; round += 1) {
      await sleep(300);
      proxy.resetAll();
    }
    proxy.latency(0);
    proxy.pass();
    const healedAt = Date.now();
    await sleep(5500);
    const result = await load.stop();

    const exitedEarly = proc.child.exitCode !== null || proc.child.signalCode !== null;
    const output = proc.output();
    const recovery = recoveryMs(result.samples, healedAt);
    const verdict = await verifyWrites(db.url, result.writes);
    reportFigures(
      `[chaos db-reset ${_name}] requests ${result.requests}, statuses ${JSON.stringify(result.statuses)}, codes ${JSON.stringify(result.codes)}, ` +
        `fetch errors ${JSON.stringify(result.fetchErrors)}, recovery ${recovery} ms, writes acknowledged ${verdict.acknowledged}, ` +
        `unacknowledged ${verdict.unacknowledged} (stored ${verdict.unacknowledgedStored})`,
    );

    expect(exitedEarly, output.slice(-3000)).toBe(false);
    expect(output).not.toMatch(/Unhandled 'error' event|uncaught|worker exited unexpectedly/i);
    // The resets did reach requests in flight, and they were answered as the contract says.
    expect(result.codes.DB_UNAVAILABLE ?? 0).toBeGreaterThan(0);
    expect(result.violations).toEqual([]);
    expect(result.statuses['500'] ?? 0).toBe(0);
    expect(result.fetchErrors).toEqual({});
    expect(recovery).not.toBeNull();
    expect(recovery!).toBeLessThanOrEqual(5000);
    expect(verdict.missing).toEqual([]);
    expect(verdict.duplicates).toEqual([]);
  });
});
