import { request } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, lockTables, type HeldLock, type TestDatabase } from '../support/database.js';
import { loginWith as login } from '../support/session.js';
import { spawnApp, type AppProcess } from '../support/process.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { UserLoad, verifyWrites } from '../chaos/support/user-load.js';
import { reportFigures } from '../chaos/support/figures.js';
import { clusterEnv } from './support/cluster-app.js';

/**
 * Stopping the built application in cluster mode (`WORKERS=2`) the ways operators and process
 * managers do: SIGTERM to the primary, SIGTERM/SIGINT to the whole process group (systemd's
 * `KillMode=control-group`, Ctrl-C on `npm start`, where npm forwards a second copy to the
 * primary). Each time: readiness `shutting_down` while still serving for the drain delay, then
 * no new connections, the request in flight completed, exit 0; exit 1 when a request had to be
 * cut.
 */
const ADMIN_PASSWORD = 'stop-signals-admin-password';

interface Probe {
  status: number | null;
  code?: string;
  body?: Record<string, unknown>;
}

/** One GET on a brand-new connection: what a load balancer's health check or a new client sees. */
function probe(port: number, path: string, cookie?: string, timeoutMs = 3000): Promise<Probe> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: cookie ? { cookie } : {}, timeout: timeoutMs }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        let body: Record<string, unknown> | undefined;
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', () => resolve({ status: null, code: 'RESPONSE_ERROR' }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ status: null, code: error.code ?? error.message }));
    req.end();
  });
}

interface Timeline {
  /** ms after the signal: readiness first said shutting_down, and was last seen doing so. */
  firstShuttingDownMs: number | null;
  lastShuttingDownMs: number | null;
  /** Liveness and the API still served (200) this long after the signal. */
  lastLiveMs: number | null;
  lastApiMs: number | null;
  /** First new connection refused. */
  firstRefusedMs: number | null;
  unexpected: string[];
}

/** Polls readiness, liveness and the API on fresh connections until the port refuses. */
async function watchStop(port: number, cookie: string, signalledAt: number, untilMs: number): Promise<Timeline> {
  const t: Timeline = { firstShuttingDownMs: null, lastShuttingDownMs: null, lastLiveMs: null, lastApiMs: null, firstRefusedMs: null, unexpected: [] };
  while (Date.now() - signalledAt < untilMs) {
    const [ready, live, api] = await Promise.all([probe(port, '/health/ready'), probe(port, '/health/live'), probe(port, '/api/auth/me', cookie)]);
    const at = Date.now() - signalledAt;
    const readyCode = (ready.body?.['error'] as { code?: string } | undefined)?.code;
    if (ready.status === 503 && ready.body?.['status'] === 'shutting_down') {
      t.firstShuttingDownMs ??= at;
      t.lastShuttingDownMs = at;
    } else if (ready.status === 503 && readyCode === 'SHUTTING_DOWN' && t.firstShuttingDownMs !== null) {
      // After the delay a worker whose listener is closing answers every request, probes
      // included, with the contract's SHUTTING_DOWN envelope: still a 503 that says why.
      t.lastShuttingDownMs = at;
    } else if (ready.status === 200 && t.firstShuttingDownMs === null) {
      // Before the signal reached the workers.
    } else if (ready.status !== null) t.unexpected.push(`ready ${ready.status} ${JSON.stringify(ready.body)} at ${at}`);
    if (live.status === 200) t.lastLiveMs = at;
    if (api.status === 200) t.lastApiMs = at;
    else if (api.status !== null && !(api.status === 503 && (api.body?.['error'] as { code?: string } | undefined)?.code === 'SHUTTING_DOWN')) {
      t.unexpected.push(`api ${api.status} at ${at}`);
    }
    for (const p of [ready, live, api]) {
      if (p.status === null) {
        // Only "not accepted" is acceptable once the listener is gone; never a reset mid-response.
        if (p.code === 'ECONNREFUSED' || p.code === 'ECONNRESET') t.firstRefusedMs ??= at;
        else t.unexpected.push(`${p.code ?? 'error'} at ${at}`);
      }
    }
    if (t.firstRefusedMs !== null && ready.status === null && live.status === null && api.status === null) return t;
    await new Promise((r) => setTimeout(r, 50));
  }
  return t;
}

function baseEnv(db: TestDatabase, extra: Record<string, string>): Record<string, string> {
  return clusterEnv(db, ADMIN_PASSWORD, extra);
}

/** A list request that waits on the test's table lock: in flight for as long as the test holds it. */
function slowRequest(port: number, cookie: string): Promise<Probe> {
  return probe(port, '/api/lots?limit=3', cookie, 30_000);
}

describe('stopping the cluster by signal', () => {
  let db: TestDatabase;
  let proc: AppProcess | null = null;
  let lock: HeldLock | null = null;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await lock?.release();
    lock = null;
    if (proc && proc.child.exitCode === null && proc.child.signalCode === null) {
      try {
        process.kill(-proc.pid, 'SIGKILL');
      } catch {
        proc.kill('SIGKILL');
      }
    }
    proc = null;
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('SIGTERM to the primary: readiness shutting_down while serving for SHUTDOWN_DRAIN_DELAY_MS, in-flight request completed, exit 0', async () => {
    const DELAY_MS = 1500;
    proc = await spawnApp(baseEnv(db, { SHUTDOWN_DRAIN_DELAY_MS: String(DELAY_MS), SHUTDOWN_TIMEOUT_MS: '6000' }), { readyPattern: /cluster primary ready/, detached: true });
    const admin = await login(proc.url, 'admin', ADMIN_PASSWORD);
    expect((await probe(proc.port, '/health/ready')).status).toBe(200);

    lock = await lockTables(db.url, ['lots']);
    const inFlight = slowRequest(proc.port, admin.cookie);
    await new Promise((r) => setTimeout(r, 300));
    const signalledAt = Date.now();
    proc.kill('SIGTERM');
    const held = lock;
    const releaseAt = setTimeout(() => void held.release(), DELAY_MS + 700);
    const timeline = await watchStop(proc.port, admin.cookie, signalledAt, DELAY_MS + 5000);
    const slow = await inFlight;
    const exit = await proc.exited;
    clearTimeout(releaseAt);
    const log = proc.output();
    reportFigures(
      `[stop: SIGTERM primary] shutting_down from ${timeline.firstShuttingDownMs} to ${timeline.lastShuttingDownMs} ms, ` +
        `live/api served until ${timeline.lastLiveMs}/${timeline.lastApiMs} ms, first refused at ${timeline.firstRefusedMs} ms, ` +
        `in-flight ${slow.status}, exit ${exit.code} after ${exit.at - signalledAt} ms`,
    );

    expect(timeline.unexpected).toEqual([]);
    expect(timeline.firstShuttingDownMs).not.toBeNull();
    expect(timeline.firstShuttingDownMs!).toBeLessThan(500);
    // Still serving (liveness and the API) through the delay, refusing only after it. (The
    // probes run in rounds; a slow round on a loaded machine may end up to ~0.5 s early.)
    expect(timeline.lastLiveMs!).toBeGreaterThanOrEqual(DELAY_MS - 700);
    expect(timeline.lastApiMs!).toBeGreaterThanOrEqual(DELAY_MS - 700);
    expect(timeline.firstRefusedMs).not.toBeNull();
    expect(timeline.firstRefusedMs!).toBeGreaterThanOrEqual(DELAY_MS - 100);
    expect(slow.status).toBe(200);
    expect(exit.code).toBe(0);
    expect(exit.at - signalledAt).toBeLessThan(DELAY_MS + 6000 + 4000);
    expect(log).not.toMatch(/second signal|forcing exit|killing all workers|SIGKILL/);
    expect(log).toMatch(/supervisor stopped: all workers exited cleanly/);
  });

  it('NODE_ENV=production defaults: SIGTERM to the primary keeps serving with readiness shutting_down for the 5 s drain delay', async () => {
    proc = await spawnApp(
      {
        NODE_ENV: 'production',
        WORKERS: '2',
        DATABASE_URL: db.url,
        REDIS_URL: SHARED_REDIS_URL,
        REDIS_KEY_PREFIX: uniquePrefix(),
        SESSION_SECRET: `stop-signals-${Math.random().toString(36).slice(2)}-0123456789abcdefghijklmnop`,
        ADMIN_BOOTSTRAP_PASSWORD: ADMIN_PASSWORD,
        LOG_LEVEL: 'info',
      },
      { readyPattern: /cluster primary ready/, detached: true },
    );
    const signalledAt = Date.now();
    proc.kill('SIGTERM');
    const timeline = await watchStop(proc.port, '', signalledAt, 12_000);
    const exit = await proc.exited;
    reportFigures(
      `[stop: production SIGTERM primary] shutting_down from ${timeline.firstShuttingDownMs} to ${timeline.lastShuttingDownMs} ms, ` +
        `live served until ${timeline.lastLiveMs} ms, first refused at ${timeline.firstRefusedMs} ms, exit ${exit.code} after ${exit.at - signalledAt} ms`,
    );
    expect(timeline.firstShuttingDownMs!).toBeLessThan(500);
    expect(timeline.lastLiveMs!).toBeGreaterThanOrEqual(5000 - 700);
    expect(timeline.firstRefusedMs!).toBeGreaterThanOrEqual(5000 - 100);
    expect(exit.code).toBe(0);
  });

  it('SIGTERM / SIGINT to the whole process group (3 runs): one stop per process, in-flight request completed, exit 0', async () => {
    const DELAY_MS = 600;
    // Ctrl-C on `npm start`: SIGINT from the terminal to every process, and npm forwards another
    // copy to the app a moment later.
    const runs: Array<{ signal: NodeJS.Signals; npmCopy: boolean }> = [
      { signal: 'SIGTERM', npmCopy: false },
      { signal: 'SIGINT', npmCopy: true },
      { signal: 'SIGTERM', npmCopy: false },
    ];
    for (const run of runs) {
      proc = await spawnApp(baseEnv(db, { SHUTDOWN_DRAIN_DELAY_MS: String(DELAY_MS), SHUTDOWN_TIMEOUT_MS: '6000' }), { readyPattern: /cluster primary ready/, detached: true });
      const admin = await login(proc.url, 'admin', ADMIN_PASSWORD);
      lock = await lockTables(db.url, ['lots']);
      const inFlight = slowRequest(proc.port, admin.cookie);
      await new Promise((r) => setTimeout(r, 300));
      const signalledAt = Date.now();
      process.kill(-proc.pid, run.signal);
      if (run.npmCopy) setTimeout(() => proc?.kill(run.signal), 5);
      const held = lock;
      setTimeout(() => void held.release(), DELAY_MS + 500);
      const timeline = await watchStop(proc.port, admin.cookie, signalledAt, DELAY_MS + 5000);
      const slow = await inFlight;
      const exit = await proc.exited;
      const log = proc.output();
      reportFigures(
        `[stop: group ${run.signal}${run.npmCopy ? ' + npm copy' : ''}] shutting_down from ${timeline.firstShuttingDownMs} ms, ` +
          `api served until ${timeline.lastApiMs} ms, first refused at ${timeline.firstRefusedMs} ms, in-flight ${slow.status}, ` +
          `exit ${exit.code} after ${exit.at - signalledAt} ms`,
      );
      expect(log).not.toMatch(/second signal|forcing exit|killing all workers|SIGKILL/);
      expect(timeline.unexpected).toEqual([]);
      expect(timeline.firstShuttingDownMs).not.toBeNull();
      expect(timeline.firstRefusedMs!).toBeGreaterThanOrEqual(DELAY_MS - 100);
      expect(slow.status).toBe(200);
      expect(exit.code).toBe(0);
      expect(log).toMatch(/supervisor stopped: all workers exited cleanly/);
      await lock.release();
      lock = null;
      proc = null;
    }
  });

  it('SIGTERM to the process group under user load: no contract violation, every acknowledged write stored once, exit 0', async () => {
    const DELAY_MS = 800;
    proc = await spawnApp(baseEnv(db, { SHUTDOWN_DRAIN_DELAY_MS: String(DELAY_MS), SHUTDOWN_TIMEOUT_MS: '6000' }), { readyPattern: /cluster primary ready/, detached: true });
    const users = Array.from({ length: 6 }, () => ({ username: 'admin', password: ADMIN_PASSWORD }));
    const load = await UserLoad.start(proc.url, users, { pauseMs: 10, requestTimeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 1500));
    const signalledAt = Date.now();
    process.kill(-proc.pid, 'SIGTERM');
    const exit = await proc.exited;
    const result = await load.stop();
    const verdict = await verifyWrites(db.url, result.writes);
    const okBefore = result.samples.filter((x) => x.ok && x.at < signalledAt).length;
    const okDuring = result.samples.filter((x) => x.ok && x.at >= signalledAt).length;
    reportFigures(
      `[stop: group SIGTERM under load] requests=${result.requests} ok before=${okBefore} ok after the signal=${okDuring} ` +
        `statuses=${JSON.stringify(result.statuses)} fetchErrors=${JSON.stringify(result.fetchErrors)} ` +
        `acknowledged writes=${verdict.acknowledged} missing=${verdict.missing.length} duplicates=${verdict.duplicates.length} ` +
        `exit ${exit.code} after ${exit.at - signalledAt} ms`,
    );
    expect(okBefore).toBeGreaterThan(20);
    // Served through the drain delay, not refused right after the signal.
    expect(okDuring).toBeGreaterThan(5);
    expect(result.violations).toEqual([]);
    expect(verdict.missing).toEqual([]);
    expect(verdict.duplicates).toEqual([]);
    expect(exit.code).toBe(0);
    expect(proc.output()).not.toMatch(/second signal|forcing exit|killing all workers|SIGKILL/);
  });

  it('SIGTERM while a rolling restart\'s replacement is still starting: it stops once up, nothing killed, exit 0', async () => {
    proc = await spawnApp(baseEnv(db, { SHUTDOWN_DRAIN_DELAY_MS: '300', SHUTDOWN_TIMEOUT_MS: '3000' }), { readyPattern: /cluster primary ready/, detached: true });
    const before = proc.output().length;
    proc.kill('SIGHUP');
    // The replacement has been forked but cannot be ready yet (a worker start takes over a second).
    const deadline = Date.now() + 5000;
    while (!/"msg":"worker forked"/.test(proc.output().slice(before)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    const signalledAt = Date.now();
    proc.kill('SIGTERM');
    const exit = await proc.exited;
    const log = proc.output().slice(before);
    reportFigures(`[stop: during a rollout's start] exit ${exit.code} after ${exit.at - signalledAt} ms`);
    expect(log).toMatch(/"msg":"worker forked"/);
    expect(log).not.toMatch(/SIGKILL|killing all workers|some workers had to be forced/);
    expect(exit.code).toBe(0);
    // Bound: the delay + SHUTDOWN_TIMEOUT_MS + 4 s; a starting worker that never heard the stop would be killed there.
    expect(exit.at - signalledAt).toBeLessThan(300 + 3000 + 4000);
  });

  it('WORKERS=1: a Ctrl-C delivered twice at once (terminal and npm) is one stop; in-flight request completed, exit 0', async () => {
    proc = await spawnApp(baseEnv(db, { WORKERS: '1', SHUTDOWN_DRAIN_DELAY_MS: '500', SHUTDOWN_TIMEOUT_MS: '6000' }), { detached: true });
    const admin = await login(proc.url, 'admin', ADMIN_PASSWORD);
    lock = await lockTables(db.url, ['lots']);
    const inFlight = slowRequest(proc.port, admin.cookie);
    await new Promise((r) => setTimeout(r, 300));
    const signalledAt = Date.now();
    process.kill(-proc.pid, 'SIGINT');
    setTimeout(() => proc?.kill('SIGINT'), 5);
    const held = lock;
    setTimeout(() => void held.release(), 900);
    const slow = await inFlight;
    const exit = await proc.exited;
    reportFigures(`[stop: WORKERS=1 double SIGINT] in-flight ${slow.status}, exit ${exit.code} after ${exit.at - signalledAt} ms`);
    expect(slow.status).toBe(200);
    expect(exit.code).toBe(0);
    expect(proc.output()).not.toMatch(/second signal|forcing exit/);
    expect(proc.output()).toMatch(/stop signal repeated within a second: same stop/);
  });

  it('exits 1 when a request outlives the stop bound and has to be cut', async () => {
    proc = await spawnApp(
      baseEnv(db, { SHUTDOWN_DRAIN_DELAY_MS: '200', SHUTDOWN_TIMEOUT_MS: '1000', SHUTDOWN_HOOK_TIMEOUT_MS: '1000', DB_QUERY_TIMEOUT_MS: '30000' }),
      { readyPattern: /cluster primary ready/, detached: true },
    );
    const admin = await login(proc.url, 'admin', ADMIN_PASSWORD);
    lock = await lockTables(db.url, ['lots']);
    const inFlight = slowRequest(proc.port, admin.cookie);
    await new Promise((r) => setTimeout(r, 300));
    const signalledAt = Date.now();
    process.kill(-proc.pid, 'SIGTERM');
    const exit = await proc.exited;
    const slow = await inFlight;
    reportFigures(`[stop: forced] in-flight ${slow.status ?? slow.code}, exit ${exit.code} after ${exit.at - signalledAt} ms`);
    expect(slow.status).toBeNull(); // cut
    expect(exit.code).toBe(1);
    // Bound: delay 0.2 s + SHUTDOWN_TIMEOUT_MS 1 s + 1 s + teardown margin 3 s, plus SIGKILL slack.
    expect(exit.at - signalledAt).toBeLessThan(200 + 1000 + 1000 + 3000 + 1500);
    expect(proc.output()).toMatch(/some workers had to be forced/);
  });
});
