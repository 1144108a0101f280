// Shared pieces of the load scenario and the benchmark: spawning the built app, cleaning up
// what we started, sampling its memory, latency statistics and result files.
// Plain Node ESM on purpose: these scripts run against `dist/`, outside Vitest and tsc.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const RESULTS_DIR = join(ROOT, 'test', 'load', 'results');
export const MAIN_JS = join(ROOT, 'dist', 'src', 'main.js');

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A free loopback port, asked of the kernel. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Cleanup: every script registers what it started; a failure, Ctrl-C or an uncaught error
// still stops the children (by their pid, nothing else) and drops what was created.
const cleanups = [];
let cleaning = null;

/** Registers `fn` to run (newest first) at the end, on failure or on a signal. */
export function onCleanup(name, fn) {
  const entry = { name, fn };
  cleanups.push(entry);
  return () => {
    const i = cleanups.indexOf(entry);
    if (i !== -1) cleanups.splice(i, 1);
  };
}

export function runCleanups() {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const { name, fn } = cleanups.pop();
      try {
        await fn();
      } catch (error) {
        process.stderr.write(`cleanup "${name}" failed: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    }
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    process.stderr.write(`\n${signal}: stopping what this script started...\n`);
    void runCleanups().finally(() => process.exit(130));
  });
}

/** Runs `main`, then the cleanups; exits with main's code (1 on a thrown error). */
export function runMain(main) {
  main().then(
    async (code) => {
      await runCleanups();
      process.exit(code ?? 0);
    },
    async (error) => {
      process.stderr.write(`\nFAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      await runCleanups();
      process.exit(1);
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Processes

/**
 * Starts `node <script>` with `env` (plus PATH/HOME), its stdout and stderr going to `logFile`
 * (a file, not a pipe: this process must not spend CPU reading 1000 log lines a second), and
 * waits until the log matches `readyPattern`. `stop()` sends SIGTERM and waits for the exit
 * (the app drains and stops its embedded PostgreSQL); SIGKILL after `stopTimeoutMs`.
 */
export async function spawnNode({ script = MAIN_JS, args = [], env, logFile, readyUrl, readyPattern = /Rampart listening on/, readyTimeoutMs = 120_000, name = 'app', nodeArgs = [] }) {
  mkdirSync(dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let exit = null;
  const exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    }),
  );
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const tail = (lines = 40) => log().split('\n').slice(-lines - 1).join('\n');
  let stopping = null;
  const stop = (timeoutMs = 30_000) => {
    stopping ??= (async () => {
      if (exit) return exit;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!exit) child.kill('SIGKILL');
      }, timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    })();
    return stopping;
  };
  const removeCleanup = onCleanup(`stop ${name} (pid ${child.pid})`, () => stop());
  const deadline = Date.now() + readyTimeoutMs;
  // With a readyUrl, ready means it answers HTTP (any status): a LOG_LEVEL above info hides the line.
  const ready = readyUrl ? () => answers(readyUrl) : async () => readyPattern.test(log());
  while (!(await ready())) {
    if (exit) throw new Error(`${name} exited early (code ${exit.code}, signal ${exit.signal}); log tail:\n${tail()}`);
    if (Date.now() > deadline) {
      await stop(5000);
      throw new Error(`${name} did not become ready within ${readyTimeoutMs} ms; log tail:\n${tail()}`);
    }
    await sleep(100);
  }
  return {
    child,
    pid: child.pid,
    log,
    tail,
    exited,
    async stop(timeoutMs) {
      const result = await stop(timeoutMs);
      removeCleanup();
      return result;
    },
  };
}

async function answers(url) {
  try {
    await fetch(url, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Memory: the resident set of the app's Node processes (the spawned pid and any workers it
// forks), not of its embedded PostgreSQL, whose shared buffers would drown the signal.

function childrenOf(pid) {
  const out = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // gone
  }
  return out;
}

function statusOf(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const name = /^Name:\s+(.*)$/m.exec(text)?.[1] ?? '';
    const rssKb = Number(/^VmRSS:\s+(\d+)\s+kB$/m.exec(text)?.[1] ?? 0);
    return { name, rssKb };
  } catch {
    return null;
  }
}

/** VmRSS (MiB) of `pid` and each of its descendants that is not a PostgreSQL process: `[{pid, ppid, rssMb}]`. */
export function nodeTreeProcesses(pid) {
  const out = [];
  const queue = [[pid, 0]];
  const seen = new Set();
  while (queue.length > 0) {
    const [p, parent] = queue.shift();
    if (seen.has(p)) continue;
    seen.add(p);
    const status = statusOf(p);
    if (!status) continue;
    if (status.name.startsWith('postgres') || status.name === 'initdb' || status.name === 'pg_ctl') continue;
    out.push({ pid: p, ppid: parent, rssMb: status.rssKb / 1024 });
    queue.push(...childrenOf(p).map((c) => [c, p]));
  }
  return out;
}

/** Sum of VmRSS (MiB) over `pid` and its descendants that are not PostgreSQL processes. */
export function nodeTreeRssMb(pid) {
  return nodeTreeProcesses(pid).reduce((sum, p) => sum + p.rssMb, 0);
}

/**
 * Samples the app's Node processes every `everyMs`; `stop()` returns
 * `[{t (s since start), rssMb (sum), processes: {[pid]: rssMb}}]`. Per process, because a
 * leak in one worker hides in the sum when another is recycled (its RSS drops) meanwhile.
 */
export function sampleRss(pid, everyMs = 1000) {
  const started = performance.now();
  const samples = [];
  const take = () => {
    const procs = nodeTreeProcesses(pid);
    samples.push({
      t: (performance.now() - started) / 1000,
      rssMb: procs.reduce((sum, p) => sum + p.rssMb, 0),
      processes: Object.fromEntries(procs.map((p) => [p.pid, p.rssMb])),
    });
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    samples,
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

/**
 * Per process of the samples ({@link sampleRss}): RSS at its first sample, after `warmupS`
 * (or its first sample after that), at its last, the max, and the least-squares slope
 * (MiB/min) from the warm-up mark on. `root` is the spawned pid: it is `app` when it serves
 * alone, `primary` when it has workers.
 */
export function rssPerProcess(samples, root, warmupS) {
  const series = new Map();
  for (const s of samples) {
    for (const [pid, rssMb] of Object.entries(s.processes ?? {})) {
      if (!series.has(pid)) series.set(pid, []);
      series.get(pid).push({ t: s.t, rssMb });
    }
  }
  const hasWorkers = series.size > 1;
  return [...series].map(([pid, points]) => {
    const after = points.filter((p) => p.t >= warmupS);
    const first = points[0];
    return {
      pid: Number(pid),
      role: Number(pid) === root ? (hasWorkers ? 'primary' : 'app') : 'worker',
      fromS: first.t,
      toS: points.at(-1).t,
      startMb: first.rssMb,
      afterWarmupMb: after[0]?.rssMb ?? null,
      endMb: points.at(-1).rssMb,
      maxMb: Math.max(...points.map((p) => p.rssMb)),
      slopeAfterWarmupMbPerMin: after.length >= 2 ? slopeMbPerMin(after) : null,
      minutesAfterWarmup: after.length >= 2 ? (after.at(-1).t - after[0].t) / 60 : 0,
    };
  });
}

/** Least-squares slope of rssMb over t, in MiB per minute. */
export function slopeMbPerMin(samples) {
  const n = samples.length;
  if (n < 2) return 0;
  const mt = samples.reduce((s, x) => s + x.t, 0) / n;
  const mr = samples.reduce((s, x) => s + x.rssMb, 0) / n;
  let num = 0;
  let den = 0;
  for (const { t, rssMb } of samples) {
    num += (t - mt) * (rssMb - mr);
    den += (t - mt) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 60;
}

/**
 * The floor of a sawtooth series (V8 heap in use climbs between collections and drops after
 * each): the lowest sample of each `windowS` window, `[{t, rssMb}]`, for {@link slopeMbPerMin}.
 * What survives collections is what a leak grows; the peaks only say when the last GC ran.
 */
export function floorSeries(samples, windowS = 60) {
  if (samples.length === 0) return [];
  const start = samples[0].t;
  // A last window shorter than half may have seen no collection at all: its minimum is a peak.
  const end = samples.at(-1).t;
  const usable = samples.filter((x) => Math.floor((x.t - start) / windowS) * windowS + windowS / 2 <= end - start);
  const windows = new Map();
  for (const x of usable) {
    const w = Math.floor((x.t - start) / windowS);
    if (!windows.has(w) || x.rssMb < windows.get(w).rssMb) windows.set(w, x);
  }
  return [...windows.values()];
}

// ---------------------------------------------------------------------------------------------
// Latency statistics: every sample kept (Float64Array, milliseconds), percentiles by sorting,
// nearest-rank. A 5-minute soak at ~1000 req/s is 300k doubles, 2.4 MB: exact beats binned.

export class Samples {
  constructor(initial = 1 << 14) {
    this.values = new Float64Array(initial);
    this.length = 0;
  }

  push(ms) {
    if (this.length === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.length++] = ms;
  }

  summary() {
    const n = this.length;
    if (n === 0) return { count: 0, min: null, mean: null, p50: null, p90: null, p95: null, p99: null, p999: null, max: null };
    const sorted = this.values.slice(0, n).sort();
    const at = (p) => sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))];
    let sum = 0;
    for (let i = 0; i < n; i += 1) sum += sorted[i];
    return { count: n, min: sorted[0], mean: sum / n, p50: at(50), p90: at(90), p95: at(95), p99: at(99), p999: at(99.9), max: sorted[n - 1] };
  }
}

// ---------------------------------------------------------------------------------------------
// Output

export const fmt = (value, digits = 1) => (value === null || value === undefined || Number.isNaN(value) ? '-' : Number(value).toFixed(digits));

/** A fixed-width text table for the terminal. */
export function textTable(header, rows) {
  const cells = [header, ...rows].map((row) => row.map(String));
  const widths = header.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  const line = (row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function markdownTable(header, rows) {
  const esc = (cell) => String(cell).replaceAll('|', '\\|');
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((row) => `| ${row.map(esc).join(' | ')} |`),
  ].join('\n');
}

export function timestamp(date = new Date()) {
  return date.toISOString().replaceAll(':', '-').replace(/\.\d+Z$/, 'Z');
}

/** Writes `<name>-<timestamp>.json` and `.md` under test/load/results/; returns both paths. */
export function writeResults(name, json, markdown, date = new Date()) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const base = join(RESULTS_DIR, `${name}-${timestamp(date)}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(`${base}.md`, markdown.endsWith('\n') ? markdown : `${markdown}\n`);
  return { json: `${base}.json`, markdown: `${base}.md` };
}

export function machine() {
  return import('node:os').then((os) => ({
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memTotalMb: Math.round(os.totalmem() / 1024 / 1024),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  }));
}

/** Fails early with a clear line when the app has not been built. */
export function requireBuild() {
  if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: run \`npm run build\` first (npm run load/bench do)`);
}

// ---------------------------------------------------------------------------------------------
// Machine noise: on a shared 2-core box another process's compile or test run moves every
// percentile. Measured, so a result says whether it was taken on a quiet machine.

function cpuTimes() {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const v = fields.map(Number);
  const idle = v[3] + (v[4] ?? 0);
  return { idle, total: v.reduce((a, b) => a + b, 0) };
}

/**
 * Fraction (0..1) of all CPUs kept busy over the next `ms` by processes other than this one
 * and the process trees of `pids` (the apps this script started, PostgreSQL included).
 */
export async function cpuBusy(ms = 2000, pids = []) {
  const ours = () => pids.reduce((sum, pid) => { const t = treeCpuSeconds(pid); return sum + t.node + t.postgres; }, 0) * 100 + (process.cpuUsage().user + process.cpuUsage().system) / 1e4;
  const a = cpuTimes();
  const oursA = ours();
  await sleep(ms);
  const b = cpuTimes();
  const oursB = ours();
  const total = b.total - a.total;
  return total === 0 ? 0 : Math.max(0, (total - (b.idle - a.idle) - (oursB - oursA)) / total);
}

/** CPU seconds (user + system) used so far by `pid` and its descendants: Node processes and PostgreSQL apart. */
export function treeCpuSeconds(pid) {
  const ticks = 100; // USER_HZ on Linux
  // node = nodeUser + nodeSystem
  const sum = { node: 0, postgres: 0, nodeUser: 0, nodeSystem: 0 };
  const queue = [pid];
  const seen = new Set();
  while (queue.length > 0) {
    const p = queue.shift();
    if (seen.has(p)) continue;
    seen.add(p);
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const seconds = (Number(fields[11]) + Number(fields[12])) / ticks;
      if (name.startsWith('postgres')) {
        sum.postgres += seconds;
      } else {
        sum.node += seconds;
        sum.nodeUser += Number(fields[11]) / ticks;
        sum.nodeSystem += Number(fields[12]) / ticks;
      }
    } catch {
      continue;
    }
    queue.push(...childrenOf(p));
  }
  return sum;
}

/** Whole-machine CPU seconds (all cores) used so far, busy and total. */
export function machineCpuSeconds() {
  const { idle, total } = cpuTimes();
  return { busy: (total - idle) / 100, total: total / 100 };
}

/** A warning line when the machine was busy before a measurement, or null. */
export function busyWarning(busy) {
  return busy > 0.2
    ? `WARNING: other processes kept the machine ${(busy * 100).toFixed(0)}% busy just before this run; latencies and rates are noisy`
    : null;
}

/**
 * A scratch database on the given server, dropped (with its connections) by the cleanup
 * chain, also on failure or Ctrl-C. Returns its name and URL.
 */
export async function createScratchDatabase(adminUrl, prefix) {
  const { default: pg } = await import('pg');
  const { randomBytes } = await import('node:crypto');
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  onCleanup(`drop database ${name}`, async () => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await client.end();
    }
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

/**
 * A Redis key prefix of this run's own (checked reachable), whose keys the cleanup chain deletes.
 */
export async function scratchRedisPrefix(redisUrl, label) {
  const { Redis } = await import('ioredis');
  const { randomBytes } = await import('node:crypto');
  const prefix = `${label}${randomBytes(4).toString('hex')}:`;
  const probe = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  await probe.connect();
  await probe.ping();
  probe.disconnect();
  onCleanup(`delete Redis keys ${prefix}*`, async () => {
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  });
  return prefix;
}
