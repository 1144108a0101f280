import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from '../support/database.js';
import type { AppProcess } from '../support/process.js';
import { createUser, type TestUser } from '../support/session.js';
import type { FaultProxy } from './support/fault-proxy.js';
import { startProxiedApp, type ProxiedApp } from './support/proxied-app.js';
import { recoveryMs, sleep, UserLoad, verifyWrites, waitFor } from './support/user-load.js';
import { reportFigures } from './support/figures.js';

const OPEN_MS = 1000;
// Far above the outage: the doubling period alone would keep the breaker open long after it.
const OPEN_MAX_MS = 60_000;
/** Wait for a trip whose open period is at least this long before healing. */
const LONG_OPEN_MS = 8000;

interface BreakerLog {
  msg: string;
  to?: string;
  at?: string;
  retryAfterMs?: number | null;
}

/**
 * Issue 12, part 5: PostgreSQL goes away (new connections refused, open ones reset) long enough
 * for the breaker to trip repeatedly, then comes back. Service must follow the database within
 * a few seconds, not wait out the doubled open period.
 */
describe('chaos: PostgreSQL outage, then recovery, with the breaker tripping repeatedly', () => {
  let env: ProxiedApp;
  let db: TestDatabase;
  let proxy: FaultProxy;
  let app: AppProcess;
  let users: TestUser[];

  beforeAll(async () => {
    env = await startProxiedApp({
      BREAKER_MIN_VOLUME: '4',
      BREAKER_WINDOW_MS: '2000',
      BREAKER_OPEN_MS: String(OPEN_MS),
      BREAKER_OPEN_MAX_MS: String(OPEN_MAX_MS),
      DB_POOL_TIMEOUT_MS: '500',
      HEALTH_CACHE_MS: '200',
    });
    ({ db, proxy, app } = env);
    users = await Promise.all(Array.from({ length: 6 }, () => createUser({ db }, 'operator')));
  });
  afterAll(async () => {
    await env?.close();
  });

  const breakerLogs = (): BreakerLog[] =>
    app
      .output()
      .split('\n')
      .filter((line) => line.includes('main database circuit'))
      .map((line) => JSON.parse(line) as BreakerLog);

  it('serves again within a few seconds of the database answering, although the doubled open period has far longer to run', async () => {
    const load = await UserLoad.start(app.url, users, { pauseMs: 30 });
    await sleep(1000);
    proxy.refuse();
    proxy.resetAll();
    const tripped = await waitFor(() => breakerLogs().some((l) => l.to === 'open' && (l.retryAfterMs ?? 0) >= LONG_OPEN_MS), 30_000);
    expect(tripped, `the breaker tripped with a long doubled open period; exit ${app.child.exitCode}; ${JSON.stringify(breakerLogs())}\n${app.output().slice(-3000)}`).not.toBeNull();
    await sleep(1000);

    const trips = breakerLogs().filter((l) => l.to === 'open');
    const last = trips.at(-1)!;
    proxy.pass();
    const healedAt = Date.now();
    const openUntil = Date.parse(last.at!) + (last.retryAfterMs ?? 0);

    const ready = await waitFor(async () => (await fetch(`${app.url}/health/ready`)).status === 200, 10_000, 50);
    const closed = await waitFor(() => breakerLogs().some((l) => l.to === 'closed' && Date.parse(l.at!) >= healedAt), 10_000, 50);
    await sleep(1500);
    const result = await load.stop();
    const recovery = recoveryMs(result.samples, healedAt);
    const verdict = await verifyWrites(db.url, result.writes);
    reportFigures(
      `[db-outage-breaker] trips ${trips.length}, open period still to run at heal ${openUntil - healedAt} ms; ` +
        `after heal: readiness 200 in ${ready} ms, breaker closed in ${closed} ms, 5 ok requests in a row after ${recovery} ms; ` +
        `codes ${JSON.stringify(result.codes)}, fetch errors ${JSON.stringify(result.fetchErrors)}`,
    );

    expect(trips.length).toBeGreaterThanOrEqual(2);
    // The old behaviour (wait out the open period) could not pass the bounds below.
    expect(openUntil - healedAt).toBeGreaterThan(5000);
    expect(closed).not.toBeNull();
    expect(closed!).toBeLessThanOrEqual(3000);
    expect(recovery).not.toBeNull();
    expect(recovery!).toBeLessThanOrEqual(3000);
    // Breaker and readiness agree within the same bound.
    expect(Math.abs(closed! - ready!)).toBeLessThanOrEqual(3000);
    expect(result.violations).toEqual([]);
    expect(verdict.missing).toEqual([]);
    expect(verdict.duplicates).toEqual([]);
    expect(app.child.exitCode).toBeNull();
  });
});
