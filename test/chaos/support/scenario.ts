import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../support/database.js';
import { spawnApp, type AppProcess } from '../../support/process.js';
import { SHARED_REDIS_URL, startOwnRedis, uniquePrefix, type OwnRedis } from '../../support/redis.js';
import { createUser, loginWith, SESSION_TEST_ENV, type BrowserSession } from '../../support/session.js';
import { FaultProxy } from './fault-proxy.js';
import { recoveryMs, sleep, UserLoad, verifyWrites, type LoadResult, type Sample, type UserLoadOptions, type WriteVerdict } from './user-load.js';

/*
 * One chaos scenario = an environment (fresh database behind a fault proxy, a Redis, the built
 * app as a child process, logged-in users writing), a timeline of faults, and a standard
 * verdict on the promises of issue 12: no unintended process exit, no acknowledged write lost,
 * none stored twice, every non-2xx answer carries a contract code, service back within 5 s of
 * the fault clearing. Fast by default (each scenario fits `npm test`); CHAOS_FULL=1 (set by
 * `npm run chaos`) stretches faults and observation. With CHAOS_REPORT_DIR set, every result is
 * appended to <dir>/results.jsonl for the report.
 */

export const FULL = process.env.CHAOS_FULL === '1';

/** A duration for the current mode: short in `npm test`, longer under CHAOS_FULL=1. */
export function scaled(fastMs: number, fullMs: number): number {
  return FULL ? fullMs : fastMs;
}

/** Vitest timeout for one scenario test. */
export const SCENARIO_TIMEOUT_MS = FULL ? 600_000 : 90_000;

export const ADMIN_PASSWORD = 'chaos-admin-password';
/** Fixed, as a production deployment has it: a restarted primary must accept the old cookies. */
const SESSION_SECRET = 'chaos-session-secret-0123456789abcdef0123456789';
const RECOVERY_BOUND_MS = 5000;
/** How long recovery is waited for before the scenario gives up on it (it then fails). */
const RECOVERY_WAIT_MS = RECOVERY_BOUND_MS + 3000;

export interface ScenarioOptions {
  /** Short id, also the report's row name. */
  name: string;
  /** What is done to the system, for the report. */
  fault: string;
  workers?: number;
  /** Extra app environment (wins over the harness's defaults). */
  env?: Record<string, string>;
  /** Concurrent logged-in users (sessions). Default 8. */
  users?: number;
  /** Distinct operator accounts the sessions share (each costs a password hash). Default min(users, 8). */
  accounts?: number;
  /** A redis-server of the scenario's own behind a second FaultProxy, instead of the shared one. */
  ownRedis?: boolean;
  load?: UserLoadOptions;
  /** Load before the timeline starts. Default 1000 ms. */
  warmupMs?: number;
  /** Load kept running after recovery, to catch late failures. Default 1 s (fast) / 5 s (full). */
  tailMs?: number;
  /** Append the result to CHAOS_REPORT_DIR (default true; the harness's self-check does not). */
  record?: boolean;
  /** The faults. Call ctx.healed() when the fault clears; recovery is measured from there. */
  timeline: (ctx: ScenarioContext) => Promise<void>;
}

export interface WorkerView {
  slot: number;
  pid: number | null;
  state: string;
  watchdog?: string;
}

export interface WorkerStatusView {
  mode: string;
  workers: WorkerView[];
  policy: { state: string; restartsInWindow: number; cooldownRemainingS: number; nextAction: string };
  rollout: { restartId: string; status: string; code: string | null; message: string | null } | null;
}

export interface ScenarioContext {
  readonly db: TestDatabase;
  readonly pg: FaultProxy;
  readonly redis: FaultProxy | null;
  readonly ownRedis: OwnRedis | null;
  /** The app currently running (startApp replaces it). */
  readonly app: AppProcess;
  readonly load: UserLoad;
  readonly full: boolean;
  scaled(fastMs: number, fullMs: number): number;
  sleep(ms: number): Promise<void>;
  /** start(), hold for `ms`, heal(); recorded as a fault, and recovery is measured from the heal. */
  fault(label: string, ms: number, start: () => void | Promise<void>, heal: () => void | Promise<void>): Promise<void>;
  /** A fault whose extent the scenario measured itself. */
  recordFault(label: string, startedAt: number, endedAt: number): void;
  /** The fault has cleared (now, or at `at`): recovery is measured from the last call. */
  healed(at?: number): void;
  /** A scenario-specific figure for the report. */
  measure(name: string, value: number | string | boolean | null): void;
  /** A scenario-specific promise, checked with the standard ones. */
  check(name: string, ok: boolean, detail?: string): void;
  /** Worker pids of the current app (the app itself when WORKERS=1), from `ps --ppid`. */
  workerPids(): number[];
  /** The scenario kills this pid on purpose: its exit is not a failure. */
  intendExit(pid: number): void;
  /** Starts the app again on the same port (after the previous one exited), as systemd would. */
  startApp(): Promise<AppProcess>;
  /** An admin session (logged in on first use). */
  admin(): Promise<BrowserSession>;
  /** `/admin/api/worker/status` from whichever worker answers. */
  workerStatus(): Promise<WorkerStatusView>;
  /** Polls worker status until `predicate` holds; null at the deadline. */
  waitForStatus(predicate: (status: WorkerStatusView) => boolean, timeoutMs: number): Promise<WorkerStatusView | null>;
}

export interface LatencyFigures {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export interface ScenarioCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ScenarioResult {
  scenario: string;
  fault: string;
  /** The Vitest test and file that ran it, so the report can join the two. */
  test: string | null;
  file: string | null;
  full: boolean;
  workers: number;
  users: number;
  startedAt: string;
  elapsedMs: number;
  faults: { label: string; atMs: number; durationMs: number }[];
  faultMs: number;
  requests: number;
  statuses: Record<string, number>;
  codes: Record<string, number>;
  violations: string[];
  fetchErrors: Record<string, number>;
  /** User operations whose final outcome (after the client's retries, if enabled) was not a 2xx. */
  failedOperations: number;
  latency: LatencyFigures;
  /** Requests completed while a fault was on. */
  faultLatency: LatencyFigures;
  /** Longest time without any successful answer, warm-up to end: what users felt as an outage. */
  longestGapMs: number;
  writes: Omit<WriteVerdict, 'unacknowledgedStoredAnswers'> & { total: number; unacknowledgedStoredAnswers: string[] };
  /** Heal time, ms after the load started; null when the scenario never healed. */
  healedAtMs: number | null;
  recoveryMs: number | null;
  exits: { unintended: string[]; intended: number[] };
  measures: Record<string, number | string | boolean | null>;
  checks: ScenarioCheck[];
  passed: boolean;
  /** The app's last log lines, when something failed. */
  logTail: string | null;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function latencyOf(samples: Sample[]): LatencyFigures {
  const ms = samples.map((s) => s.ms ?? 0).sort((a, b) => a - b);
  return { n: ms.length, p50: percentile(ms, 50), p99: percentile(ms, 99), max: ms.length ? ms[ms.length - 1]! : 0 };
}

/** Longest stretch between `from` and `to` without a successful answer. */
function longestGap(samples: Sample[], from: number, to: number): number {
  let last = from;
  let longest = 0;
  for (const sample of samples) {
    if (!sample.ok) continue;
    longest = Math.max(longest, sample.at - last);
    last = sample.at;
  }
  return Math.max(longest, to - last);
}

/** Children of `pid` (cluster workers of a primary). */
export function childPids(pid: number): number[] {
  try {
    return execFileSync('ps', ['--ppid', String(pid), '-o', 'pid='], { encoding: 'utf8' })
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    // ps exits 1 when there is no such child.
    return [];
  }
}

/** Alive and not a zombie (an orphan reparented to a pid 1 that does not reap stays a zombie). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return true;
  try {
    const text = readFileSync(stat, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The process's start time (clock ticks since boot), which tells a pid from a reused one. */
export function processStart(pid: number): string | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** `worker exited unexpectedly` lines of the supervisor's JSON log: [pid, line]. */
function unexpectedWorkerExits(output: string): Array<[number | null, string]> {
  const found: Array<[number | null, string]> = [];
  for (const line of output.split('\n')) {
    if (!line.includes('worker exited unexpectedly')) continue;
    let pid: number | null = null;
    try {
      // The supervisor's fields come after the logger's base ones, so `pid` is the worker's.
      const parsed = JSON.parse(line) as { pid?: unknown };
      pid = typeof parsed.pid === 'number' ? parsed.pid : null;
    } catch {
      pid = null;
    }
    found.push([pid, line.slice(0, 300)]);
  }
  return found;
}

function record(result: ScenarioResult): void {
  const dir = process.env.CHAOS_REPORT_DIR;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  appendFileSync(join(dir, 'results.jsonl'), `${JSON.stringify(result)}\n`);
}

async function dropRedisPrefix(prefix: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(SHARED_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } catch {
    // Best effort: the keys expire with their sessions anyway.
  } finally {
    redis.disconnect();
  }
}

/** Builds the environment, runs the timeline under load, tears everything down, returns the verdict. */
export async function runScenario(options: ScenarioOptions): Promise<ScenarioResult> {
  const workers = options.workers ?? 1;
  const userCount = options.users ?? 8;
  const accountCount = Math.max(1, Math.min(userCount, options.accounts ?? 8));
  const state = expect.getState();
  const startedAt = new Date();

  let db: TestDatabase | null = null;
  let pg: FaultProxy | null = null;
  let redisProxy: FaultProxy | null = null;
  let ownRedis: OwnRedis | null = null;
  let app: AppProcess | null = null;
  let load: UserLoad | null = null;
  const apps: AppProcess[] = [];
  /** Every worker pid seen, with its start time, so teardown never signals a reused pid. */
  const seenPids = new Map<number, string | null>();
  const intended = new Set<number>();
  const faults: ScenarioResult['faults'] = [];
  const faultWindows: Array<[number, number]> = [];
  const measures: ScenarioResult['measures'] = {};
  const extraChecks: ScenarioCheck[] = [];
  const earlyExits: string[] = [];
  let healedAt: number | null = null;
  let loadStartedAt = Date.now();
  let tearingDown = false;
  let pidTimer: NodeJS.Timeout | null = null;
  const redisPrefix = uniquePrefix();

  try {
    db = await createTestDatabase('rampart_chaos');
    const dbUrl = new URL(db.url);
    pg = await FaultProxy.start({ host: dbUrl.hostname, port: Number(dbUrl.port || 5432) });
    let redisUrl = SHARED_REDIS_URL;
    if (options.ownRedis) {
      ownRedis = await startOwnRedis();
      redisProxy = await FaultProxy.start({ host: '127.0.0.1', port: ownRedis.port });
      redisUrl = redisProxy.url(ownRedis.url);
    }
    const env: Record<string, string> = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      WORKERS: String(workers),
      DATABASE_URL: pg.url(db.url),
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: redisPrefix,
      SESSION_SECRET,
      SEED_LOTS: '20',
      ADMIN_BOOTSTRAP_PASSWORD: ADMIN_PASSWORD,
      SHUTDOWN_DRAIN_DELAY_MS: '0',
      SHUTDOWN_TIMEOUT_MS: '5000',
      WORKER_READY_TIMEOUT_MS: '20000',
      ...SESSION_TEST_ENV,
      ...options.env,
    };
    let port: number | null = null;
    const watchExit = (proc: AppProcess) => {
      void proc.exited.then(({ code, signal }) => {
        if (!tearingDown && !intended.has(proc.pid)) earlyExits.push(`app ${proc.pid} exited on its own (code ${code}, signal ${signal})`);
      });
    };
    const start = async (): Promise<AppProcess> => {
      // The log level hides the "listening" line, so readiness is asked over HTTP: every
      // worker ready, as the supervisor sees it.
      let session: BrowserSession | null = null;
      const readyCheck = async (url: string): Promise<boolean> => {
        if (workers === 1) return (await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(1000) })).status === 200;
        session ??= await loginWith(url, 'admin', ADMIN_PASSWORD);
        const response = await fetch(`${url}/admin/api/worker/status`, { headers: { cookie: session.cookie }, signal: AbortSignal.timeout(1000) });
        if (response.status !== 200) return false;
        const status = (await response.json()) as WorkerStatusView;
        return status.workers.filter((w) => w.state === 'ready').length === workers;
      };
      const proc = await spawnApp(port === null ? env : { ...env, PORT: String(port) }, { readyCheck, readyTimeoutMs: 60_000 });
      port = proc.port;
      apps.push(proc);
      app = proc;
      watchExit(proc);
      return proc;
    };
    const currentPids = (): number[] => {
      if (!app || !isAlive(app.pid)) return [];
      return workers > 1 ? childPids(app.pid) : [app.pid];
    };
    await start();
    pidTimer = setInterval(() => {
      for (const pid of currentPids()) if (!seenPids.has(pid)) seenPids.set(pid, processStart(pid));
    }, 250);

    const accounts = await Promise.all(Array.from({ length: accountCount }, () => createUser({ db: db! }, 'operator')));
    const users = Array.from({ length: userCount }, (_, i) => accounts[i % accounts.length]!);
    load = await UserLoad.start(app!.url, users, options.load);
    loadStartedAt = Date.now();
    await sleep(options.warmupMs ?? 1000);

    let adminSession: BrowserSession | null = null;
    const admin = async () => (adminSession ??= await loginWith(app!.url, 'admin', ADMIN_PASSWORD));
    const workerStatus = async (): Promise<WorkerStatusView> => {
      let lastError: unknown = null;
      for (let attempt = 0; attempt < 30; attempt += 1) {
        try {
          const session = await admin();
          const response = await fetch(`${app!.url}/admin/api/worker/status`, { headers: { cookie: session.cookie }, signal: AbortSignal.timeout(1500) });
          if (response.status === 200) return (await response.json()) as WorkerStatusView;
          lastError = new Error(`worker status answered ${response.status}`);
        } catch (error) {
          lastError = error;
        }
        await sleep(100);
      }
      throw lastError instanceof Error ? lastError : new Error(String(lastError));
    };
    const ctx: ScenarioContext = {
      db,
      pg,
      redis: redisProxy,
      ownRedis,
      get app() {
        return app!;
      },
      load,
      full: FULL,
      scaled,
      sleep,
      async fault(label, ms, begin, heal) {
        const from = Date.now();
        await begin();
        await sleep(ms);
        await heal();
        const to = Date.now();
        ctx.recordFault(label, from, to);
        ctx.healed(to);
      },
      recordFault(label, from, to) {
        faults.push({ label, atMs: from - loadStartedAt, durationMs: to - from });
        faultWindows.push([from, to]);
      },
      healed(at = Date.now()) {
        healedAt = at;
      },
      measure(name, value) {
        measures[name] = value;
      },
      check(name, ok, detail = '') {
        extraChecks.push({ name, ok, detail });
      },
      workerPids: currentPids,
      intendExit(pid) {
        intended.add(pid);
      },
      startApp: start,
      admin,
      workerStatus,
      async waitForStatus(predicate, timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const status = await workerStatus().catch(() => null);
          if (status && predicate(status)) return status;
          if (Date.now() > deadline) return null;
          await sleep(150);
        }
      },
    };

    await options.timeline(ctx);

    // Keep the load on until service is back (or clearly is not), then a little longer.
    if (healedAt !== null) {
      const heal: number = healedAt;
      while (Date.now() - heal < RECOVERY_WAIT_MS && recoveryMs([...load.samples], heal) === null) await sleep(100);
    }
    await sleep(options.tailMs ?? scaled(1000, 5000));
    const loadResult: LoadResult = await load.stop();
    const loadStoppedAt = Date.now();
    load = null;
    if (pidTimer) clearInterval(pidTimer);
    pidTimer = null;

    const verdict = await verifyWrites(db.url, loadResult.writes);
    const recovery = healedAt === null ? null : recoveryMs(loadResult.samples, healedAt);
    const inFault = loadResult.samples.filter((s) => faultWindows.some(([from, to]) => s.at >= from && s.at <= to));
    const output = apps.map((a) => a.output()).join('\n');
    const unintended = [...earlyExits];
    for (const [pid, line] of unexpectedWorkerExits(output)) {
      if (pid === null || !intended.has(pid)) unintended.push(`worker ${pid ?? '?'}: ${line}`);
    }
    const checks: ScenarioCheck[] = [
      { name: 'no unintended process exit', ok: unintended.length === 0, detail: unintended.slice(0, 5).join(' | ') },
      { name: 'no acknowledged write missing', ok: verdict.missing.length === 0, detail: verdict.missing.slice(0, 10).join(', ') },
      { name: 'no write stored twice', ok: verdict.duplicates.length === 0, detail: verdict.duplicates.slice(0, 10).join(', ') },
      {
        name: 'every non-2xx answer carries a contract code (no 500)',
        ok: loadResult.violations.length === 0,
        detail: loadResult.violations.slice(0, 5).join(' | '),
      },
    ];
    if (healedAt !== null) {
      checks.push({
        name: `recovery within ${RECOVERY_BOUND_MS} ms of the fault clearing`,
        ok: recovery !== null && recovery <= RECOVERY_BOUND_MS,
        detail: recovery === null ? 'service did not come back' : `${recovery} ms`,
      });
    }
    checks.push(...extraChecks);
    const passed = checks.every((c) => c.ok);
    const { unacknowledgedStoredAnswers, ...writeCounts } = verdict;
    const result: ScenarioResult = {
      scenario: options.name,
      fault: options.fault,
      test: state.currentTestName ?? null,
      file: state.testPath ?? null,
      full: FULL,
      workers,
      users: userCount,
      startedAt: startedAt.toISOString(),
      elapsedMs: Date.now() - startedAt.getTime(),
      faults,
      faultMs: faults.reduce((sum, f) => sum + f.durationMs, 0),
      requests: loadResult.requests,
      statuses: loadResult.statuses,
      codes: loadResult.codes,
      violations: loadResult.violations.slice(0, 50),
      fetchErrors: loadResult.fetchErrors,
      failedOperations: loadResult.failedOperations,
      latency: latencyOf(loadResult.samples),
      faultLatency: latencyOf(inFault),
      longestGapMs: longestGap(loadResult.samples, loadStartedAt, loadStoppedAt),
      writes: { ...writeCounts, total: loadResult.writes.length, unacknowledgedStoredAnswers: unacknowledgedStoredAnswers.slice(0, 10) },
      healedAtMs: healedAt === null ? null : healedAt - loadStartedAt,
      recoveryMs: recovery,
      exits: { unintended, intended: [...intended] },
      measures,
      checks,
      passed,
      logTail: passed ? null : output.slice(-3000),
    };
    if (options.record ?? true) record(result);
    console.info(summaryLine(result));
    return result;
  } finally {
    tearingDown = true;
    if (pidTimer) clearInterval(pidTimer);
    await (load as UserLoad | null)?.stop().catch(() => undefined);
    for (const proc of apps) {
      for (const pid of childPids(proc.pid)) if (!seenPids.has(pid)) seenPids.set(pid, processStart(pid));
      proc.kill('SIGTERM');
      const exited = await Promise.race([proc.exited.then(() => true), sleep(15_000).then(() => false)]);
      if (!exited) proc.kill('SIGKILL');
    }
    // Workers that outlived their primary (killed outright): ours, by pid, if still the same process.
    for (const [pid, startTime] of seenPids) {
      if (startTime !== null && isAlive(pid) && processStart(pid) === startTime) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone meanwhile.
        }
      }
    }
    await pg?.close();
    await redisProxy?.close();
    await ownRedis?.stop();
    await db?.drop().catch(() => undefined);
    await dropRedisPrefix(redisPrefix);
  }
}

function formatCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts);
  return entries.length === 0 ? '-' : entries.map(([k, v]) => `${k} ${v}`).join(', ');
}

export function summaryLine(r: ScenarioResult): string {
  return (
    `[chaos ${r.scenario}${r.full ? ' full' : ''}] ${r.passed ? 'PASS' : 'FAIL'}: faults ${r.faults.map((f) => `${f.label} ${f.durationMs} ms`).join('; ') || '-'}; ` +
    `requests ${r.requests}, statuses ${formatCounts(r.statuses)}, codes ${formatCounts(r.codes)}, no answer ${formatCounts(r.fetchErrors)}, failed operations ${r.failedOperations}; ` +
    `p50/p99/max ${r.latency.p50}/${r.latency.p99}/${r.latency.max} ms (in fault ${r.faultLatency.p99}/${r.faultLatency.max}); ` +
    `writes ${r.writes.total}: acknowledged ${r.writes.acknowledged}, missing ${r.writes.missing.length}, duplicates ${r.writes.duplicates.length}, ` +
    `unacknowledged ${r.writes.unacknowledged} (stored ${r.writes.unacknowledgedStored}); recovery ${r.recoveryMs ?? '-'} ms; longest gap ${r.longestGapMs} ms; ` +
    `unintended exits ${r.exits.unintended.length}; ${Object.entries(r.measures).map(([k, v]) => `${k}=${v}`).join(' ')}`
  );
}

/** The standard assertion: every promise held (all failures reported at once, with the log tail). */
export function expectPromisesKept(result: ScenarioResult): void {
  const failed = result.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
  expect(failed, `${summaryLine(result)}\n${result.logTail ?? ''}`).toEqual([]);
}
