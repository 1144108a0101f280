#!/usr/bin/env node
// Overload benchmark (issue 14): open-loop arrivals of the session scenario's requests at 1x, 2x
// and 4x of the capacity it first measures on this machine: with admission control at floor 8
// (the latency setting), with the production defaults (floor 64), and without
// (ADMISSION_CONTROL=false); a table per run:
//   goodput (2xx/s), p99 of admitted (2xx) requests, OVERLOADED count and p99 answer time,
//   /health/live p99 and any 503, other failures (any other non-2xx, network errors, timeouts).
// Targets with admission control: goodput at 4x >= 90% of 1x; admitted p99 <= 3x the unloaded
// p99; every OVERLOADED answered in < 10 ms (p99 shown); /health/live p99 < 50 ms, never 503;
// no other failure.
//
//   npm run load:overload
//   node test/load/overload.mjs --phase-s 10 --users 64 --app-env ADMISSION_MIN_LIMIT=4
//
// The app is the built one (`dist/src/main.js`), started by this script on a scratch database of
// the shared PostgreSQL (TEST_POSTGRES_URL or --pg-url, superuser; dropped afterwards), sessions
// in memory (no REDIS_URL), LOG_LEVEL info to a file. Signed-in operators send, open loop (each
// request at its scheduled time whatever the previous answers), 40% `GET /api/lots?limit=20`
// (random filters), 40% `GET /api/lots/:id`, 20% `POST /api/lots/:id/notes` with CSRF token.
// Capacity = 2xx/s of a closed loop at --capacity-concurrency for --capacity-s; unloaded p99 =
// one request at a time for 5 s. A probe sends `GET /health/live` every 50 ms on its own
// connection. Not part of npm test; results also go to test/load/results/overload-<ts>.*.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import {
  Samples,
  busyWarning,
  cpuBusy,
  createScratchDatabase,
  fmt,
  freePort,
  machine,
  markdownTable,
  requireBuild,
  runMain,
  ROOT,
  sleep,
  spawnNode,
  textTable,
  treeCpuSeconds,
  writeResults,
} from './lib/common.mjs';
import { parseJson, VirtualUser } from './lib/http-client.mjs';

const { values: opts } = parseArgs({
  options: {
    'pg-url': { type: 'string', default: process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    users: { type: 'string', default: '48' },
    'phase-s': { type: 'string', default: '10' },
    'capacity-s': { type: 'string', default: '8' },
    'capacity-concurrency': { type: 'string', default: '16' },
    multipliers: { type: 'string', default: '1,2,4' },
    'seed-lots': { type: 'string', default: '2000' },
    'app-env': { type: 'string', multiple: true, default: [] },
    'keep-logs': { type: 'boolean', default: false },
    // Which runs: `latency` (admission control, floor 8), `default` (admission control with the
    // production defaults), `off` (ADMISSION_CONTROL=false). The first one measures capacity.
    modes: { type: 'string', default: 'latency,default,off' },
  },
});
const USERS = Number(opts.users);
const PHASE_S = Number(opts['phase-s']);
const CAPACITY_S = Number(opts['capacity-s']);
const CAPACITY_CONCURRENCY = Number(opts['capacity-concurrency']);
const MULTIPLIERS = opts.multipliers.split(',').map(Number);
const REQUEST_TIMEOUT_MS = 10_000;
const STATUSES = ['queued', 'running', 'hold', 'done'];
const log = (line) => process.stdout.write(`${line}\n`);
const runId = randomBytes(3).toString('hex');
const PASSWORD = `ovl-${randomBytes(9).toString('base64url')}`;

/**
 * The runs. `latency` lowers the limit's floor to 8 (start 16): the setting for the issue's
 * latency target. The production default floor (64) keeps a closed-loop user population from
 * ever queueing, which also lets 64 requests share the CPU under open-loop overload.
 */
const MODES = {
  latency: { label: 'with admission control, floor 8 (ADMISSION_MIN_LIMIT=8 ADMISSION_INITIAL_LIMIT=16)', env: { ADMISSION_CONTROL: 'true', ADMISSION_MIN_LIMIT: '8', ADMISSION_INITIAL_LIMIT: '16' } },
  default: { label: 'with admission control, defaults (floor 64)', env: { ADMISSION_CONTROL: 'true' } },
  off: { label: 'without admission control (ADMISSION_CONTROL=false)', env: { ADMISSION_CONTROL: 'false' } },
};

async function startApp(dbUrl, modeName) {
  const mode = MODES[modeName];
  const port = await freePort();
  const env = {
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: dbUrl,
    SEED_LOTS: opts['seed-lots'],
    ADMIN_BOOTSTRAP_PASSWORD: `admin-${randomBytes(12).toString('base64url')}`,
    SESSION_SECRET: randomBytes(32).toString('base64url'),
    RATE_LIMIT_ACCOUNT_PER_MIN: '100000000',
    ...mode.env,
    ...Object.fromEntries(opts['app-env'].map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
  };
  const logFile = join('/tmp', `rampart-overload-${runId}-${modeName}.log`);
  const app = await spawnNode({ env, logFile, name: `rampart (${modeName})`, readyUrl: `http://127.0.0.1:${port}/health/live`, readyTimeoutMs: 120_000 });
  return { app, url: `http://127.0.0.1:${port}`, logFile };
}

async function createUsers(dbUrl) {
  const { PasswordHasher } = await import(join(ROOT, 'dist', 'src', 'auth', 'password-hasher.js'));
  const hash = await new PasswordHasher().hash(PASSWORD);
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    const names = Array.from({ length: USERS }, (_, i) => `ovl-${runId}-${i}`);
    await client.query(`INSERT INTO users (username, password_hash, role) SELECT name, $2, 'operator' FROM unnest($1::text[]) AS name`, [names, hash]);
    const { rows } = await client.query('SELECT id FROM lots ORDER BY id');
    return { names, lotIds: rows.map((r) => r.id) };
  } finally {
    await client.end();
  }
}

/** Signs every user in (sequentially: argon2 has its bulkhead); returns {cookie, csrf} per user. */
async function signIn(url, names) {
  const sessions = [];
  for (const [i, name] of names.entries()) {
    const vu = new VirtualUser(url, { forwardedFor: `198.18.${Math.floor((i + 1) / 250)}.${((i + 1) % 250) + 1}` });
    const pre = await vu.request('GET', '/api/auth/csrf');
    vu.csrfToken = parseJson('csrf', pre).token;
    const login = await vu.request('POST', '/api/auth/login', { json: { username: name, password: PASSWORD } });
    if (login.status !== 200) throw new Error(`login of ${name} answered ${login.status}: ${login.body}`);
    vu.csrfToken = parseJson('csrf', await vu.request('GET', '/api/auth/csrf')).token;
    sessions.push({ cookie: vu.cookieHeader(), csrf: vu.csrfToken });
    vu.close();
  }
  return sessions;
}

/** One request of the scenario's mix on the shared agent; resolves {status, code, ms} or {error, ms}. */
function scenarioRequest(target, agent, sessions, lotIds, n) {
  const session = sessions[n % sessions.length];
  const lot = lotIds[(n * 7919) % lotIds.length];
  const kind = n % 5;
  let method = 'GET';
  let path;
  let body;
  if (kind < 2) {
    const status = Math.random() < 0.8 ? `&status=${STATUSES[n % STATUSES.length]}` : '';
    path = `/api/lots?limit=20${status}`;
  } else if (kind < 4) path = `/api/lots/${lot}`;
  else {
    method = 'POST';
    path = `/api/lots/${lot}/notes`;
    body = JSON.stringify({ text: `overload ${runId} ${n}` });
  }
  const headers = { accept: 'application/json', cookie: session.cookie };
  if (body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), origin: target.origin, 'x-csrf-token': session.csrf });
  return send(agent, target, method, path, headers, body);
}

function send(agent, target, method, path, headers, body) {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = http.request({ agent, hostname: target.hostname, port: target.port, method, path, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const ms = performance.now() - started;
        let code = null;
        if (res.statusCode >= 400) {
          try {
            code = JSON.parse(Buffer.concat(chunks).toString('utf8')).error?.code ?? null;
          } catch {
            code = null;
          }
        }
        resolve({ status: res.statusCode, code, ms });
      });
      res.on('error', (error) => resolve({ error: error.message, ms: performance.now() - started }));
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve({ error: error.message, ms: performance.now() - started }));
    req.end(body);
  });
}

function newAgent() {
  return new http.Agent({ keepAlive: true, maxSockets: 1024, maxFreeSockets: 1024 });
}

/** Closed loop at `concurrency` for `seconds`: 2xx/s and the 2xx latencies. */
async function closedLoop(url, sessions, lotIds, concurrency, seconds) {
  const target = new URL(url);
  const agent = newAgent();
  const ok = new Samples();
  let n = 0;
  let failures = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const r = await scenarioRequest(target, agent, sessions, lotIds, n++);
        if (r.status >= 200 && r.status < 300) ok.push(r.ms);
        else failures += 1;
      }
    }),
  );
  agent.destroy();
  return { rps: ok.length / seconds, latency: ok.summary(), failures };
}

/** Open loop at `rate` req/s for `seconds`: each request at its time, whatever the answers so far. */
async function openLoop(url, sessions, lotIds, rate, seconds) {
  const target = new URL(url);
  const agent = newAgent();
  const admitted = new Samples();
  const overloaded = new Samples();
  const other = {};
  let sent = 0;
  let late = 0;
  const pending = [];
  const started = performance.now();
  const end = started + seconds * 1000;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      const due = Math.floor(((Math.min(now, end) - started) / 1000) * rate);
      while (sent < due) {
        const p = scenarioRequest(target, agent, sessions, lotIds, sent).then((r) => {
          // Goodput is what the server delivered within the window; answers after it are late.
          if (!r.error && r.status >= 200 && r.status < 300 && performance.now() > end) late += 1;
          if (r.error) other[`network: ${r.error}`] = (other[`network: ${r.error}`] ?? 0) + 1;
          else if (r.status >= 200 && r.status < 300) admitted.push(r.ms);
          else if (r.status === 503 && r.code === 'OVERLOADED') overloaded.push(r.ms);
          else other[`${r.status} ${r.code ?? ''}`.trim()] = (other[`${r.status} ${r.code ?? ''}`.trim()] ?? 0) + 1;
        });
        pending.push(p);
        sent += 1;
      }
      if (now >= end) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  await Promise.all(pending);
  agent.destroy();
  return { admitted, overloaded, other, sent, late };
}

/** `openLoop` with a /health/live probe every 50 ms alongside, on its own connection. */
async function phase(url, sessions, lotIds, rate, seconds) {
  const target = new URL(url);
  const probeAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const live = new Samples();
  let live503 = 0;
  let liveOther = 0;
  let probing = true;
  const probe = (async () => {
    while (probing) {
      const r = await send(probeAgent, target, 'GET', '/health/live', { accept: 'application/json' });
      if (r.error) liveOther += 1;
      else {
        live.push(r.ms);
        if (r.status === 503) live503 += 1;
        else if (r.status !== 200) liveOther += 1;
      }
      await sleep(50);
    }
  })();
  const result = await openLoop(url, sessions, lotIds, rate, seconds);
  probing = false;
  await probe;
  probeAgent.destroy();
  return { ...result, live, live503, liveOther };
}

/** The limit at the end of a phase and the refusals so far by lane and reason, from /metrics. */
async function admissionState(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const limit = Number(/^rampart_admission_limit (\S+)$/m.exec(text)?.[1] ?? NaN);
  const shed = {};
  for (const m of text.matchAll(/^rampart_admission_shed_total\{lane="([^"]+)",reason="([^"]+)"\} (\d+)$/gm)) shed[`${m[1]}/${m[2]}`] = Number(m[3]);
  return { limit, shed };
}

async function runMode(dbUrl, names, lotIds, modeName, capacity) {
  log(`\n== ${MODES[modeName].label} ==`);
  const { app, url, logFile } = await startApp(dbUrl, modeName);
  try {
    const sessions = await signIn(url, names);
    // Warm-up: JIT, pool connections, the limit's no-load latency.
    await closedLoop(url, sessions, lotIds, 4, 3);
    let measured = capacity;
    let unloaded = null;
    if (measured === null) {
      unloaded = await closedLoop(url, sessions, lotIds, 1, 5);
      log(`unloaded (one at a time, 5 s): ${fmt(unloaded.rps, 0)} req/s, p50 ${fmt(unloaded.latency.p50)} ms, p99 ${fmt(unloaded.latency.p99)} ms`);
      const cap = await closedLoop(url, sessions, lotIds, CAPACITY_CONCURRENCY, CAPACITY_S);
      measured = { rps: cap.rps, unloadedP99: unloaded.latency.p99, closedP99: cap.latency.p99 };
      log(`capacity (closed loop, ${CAPACITY_CONCURRENCY} at once, ${CAPACITY_S} s): ${fmt(cap.rps, 0)} 2xx/s, p99 ${fmt(cap.latency.p99)} ms, failures ${cap.failures}`);
      await sleep(2000);
    }
    const rows = [];
    for (const m of MULTIPLIERS) {
      const rate = Math.round(measured.rps * m);
      const load1 = loadavg()[0];
      const cpuBefore = treeCpuSeconds(app.pid);
      const generatorLag = monitorEventLoopDelay({ resolution: 10 });
      generatorLag.enable();
      const r = await phase(url, sessions, lotIds, rate, PHASE_S);
      generatorLag.disable();
      const cpuAfter = treeCpuSeconds(app.pid);
      const admission = await admissionState(url);
      const a = r.admitted.summary();
      const o = r.overloaded.summary();
      const l = r.live.summary();
      const otherCount = Object.values(r.other).reduce((s, v) => s + v, 0);
      const row = {
        multiplier: m,
        rate,
        sent: r.sent,
        goodput: (r.admitted.length - r.late) / PHASE_S,
        late2xx: r.late,
        appCpu: (cpuAfter.node - cpuBefore.node) / PHASE_S,
        generatorLagP99: generatorLag.percentile(99) / 1e6,
        admittedP50: a.p50,
        admittedP99: a.p99,
        overloaded: r.overloaded.length,
        overloadedP99: o.p99,
        overloadedMax: o.max,
        liveP99: l.p99,
        liveMax: l.max,
        live503: r.live503,
        liveOther: r.liveOther,
        other: otherCount,
        otherDetail: r.other,
        loadavg1: load1,
        admission,
      };
      rows.push(row);
      log(
        `  ${m}x (${rate}/s): goodput ${fmt(row.goodput, 0)}/s, admitted p99 ${fmt(a.p99)} ms, OVERLOADED ${row.overloaded} (p99 ${fmt(o.p99)} ms), live p99 ${fmt(l.p99)} ms 503s ${r.live503}, other ${otherCount}${otherCount ? ` ${JSON.stringify(r.other)}` : ''}; limit ${admission.limit}, shed ${JSON.stringify(admission.shed)}`,
      );
      // Let queues drain before the next rate.
      await sleep(3000);
    }
    const shedLines = (await import('node:fs')).readFileSync(logFile, 'utf8').split('\n').filter((l) => l.includes('admission control: shedding')).length;
    return { measured, rows, shedLogLines: shedLines };
  } finally {
    await app.stop();
    if (!opts['keep-logs']) (await import('node:fs')).rmSync(logFile, { force: true });
  }
}

function table(rows, unloadedP99) {
  const header = ['rate', 'arrivals/s', 'goodput 2xx/s', '2xx after window', 'admitted p50 ms', 'admitted p99 ms', 'OVERLOADED', 'OVERLOADED p99 ms', '/health/live p99 ms', 'live 503', 'other failures', 'app CPU', 'generator lag p99 ms', 'load avg'];
  const body = rows.map((r) => [
    `${r.multiplier}x`,
    String(r.rate),
    fmt(r.goodput, 0),
    String(r.late2xx),
    fmt(r.admittedP50),
    `${fmt(r.admittedP99)}${unloadedP99 ? ` (${fmt(r.admittedP99 / unloadedP99)}x)` : ''}`,
    String(r.overloaded),
    fmt(r.overloadedP99),
    fmt(r.liveP99),
    String(r.live503),
    String(r.other + r.liveOther),
    fmt(r.appCpu, 2),
    fmt(r.generatorLagP99, 0),
    fmt(r.loadavg1, 2),
  ]);
  return { header, body };
}

function verdicts(rows, unloadedP99) {
  const base = rows.find((r) => r.multiplier === 1);
  const top = rows.find((r) => r.multiplier === 4);
  const checks = [];
  if (base && top) checks.push([`goodput at 4x >= 90% of 1x`, `${fmt((top.goodput / base.goodput) * 100, 0)}%`, top.goodput >= 0.9 * base.goodput]);
  const worstP99 = Math.max(...rows.map((r) => r.admittedP99 ?? 0));
  checks.push([`admitted p99 <= 3x unloaded p99 (${fmt(unloadedP99)} ms)`, `${fmt(worstP99)} ms`, worstP99 <= 3 * unloadedP99]);
  const worstOverloaded = Math.max(0, ...rows.map((r) => r.overloadedP99 ?? 0));
  checks.push(['OVERLOADED answered in < 10 ms (p99)', `${fmt(worstOverloaded)} ms`, worstOverloaded < 10]);
  const worstLive = Math.max(...rows.map((r) => r.liveP99 ?? 0));
  checks.push(['/health/live p99 < 50 ms', `${fmt(worstLive)} ms`, worstLive < 50]);
  const live503 = rows.reduce((s, r) => s + r.live503, 0);
  checks.push(['/health/live never 503', String(live503), live503 === 0]);
  const other = rows.reduce((s, r) => s + r.other + r.liveOther, 0);
  checks.push(['no other failure', String(other), other === 0]);
  return checks;
}

async function main() {
  requireBuild();
  const busy = await cpuBusy(2000);
  const warning = busyWarning(busy);
  if (warning) log(warning);
  log(`load average before: ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
  const db = await createScratchDatabase(opts['pg-url'], 'rampart_overload');
  // The first start migrates and seeds; users go in afterwards.
  const first = await startApp(db.url, 'default');
  await first.app.stop();
  const { names, lotIds } = await createUsers(db.url);

  const modeNames = opts.modes.split(',').filter((m) => m in MODES);
  const runs = [];
  let measured = null;
  for (const name of modeNames) {
    const run = await runMode(db.url, names, lotIds, name, measured);
    measured ??= run.measured;
    runs.push({ name, label: MODES[name].label, ...run });
  }
  const unloadedP99 = measured.unloadedP99;

  const out = [];
  out.push(`capacity ${fmt(measured.rps, 0)} 2xx/s (closed loop, ${CAPACITY_CONCURRENCY} at once, measured in the first run), unloaded p99 ${fmt(unloadedP99)} ms; ${PHASE_S} s per rate; ${USERS} signed-in users`);
  for (const run of runs) {
    const t = table(run.rows, unloadedP99);
    out.push(`\n${run.label} (shedding log lines: ${run.shedLogLines})\n${textTable(t.header, t.body)}`);
  }
  const checks = [];
  for (const run of runs.filter((r) => r.name !== 'off')) {
    for (const [check, value, ok] of verdicts(run.rows, unloadedP99)) checks.push([`${run.name}: ${check}`, value, ok]);
  }
  out.push(`\ntargets (with admission control)\n${textTable(['check', 'measured', 'result'], checks.map(([c, m, ok]) => [c, m, ok ? 'PASS' : 'FAIL']))}`);
  out.push(`\nload average after: ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
  log(`\n${out.join('\n')}`);

  const md = [
    `# Overload benchmark ${new Date().toISOString()}`,
    warning ?? '',
    out[0],
    ...runs.map((run) => {
      const t = table(run.rows, unloadedP99);
      return `\n## ${run.label}\n\n${markdownTable(t.header, t.body)}`;
    }),
    `\n## Targets\n\n${markdownTable(['check', 'measured', 'result'], checks.map(([c, m, ok]) => [c, m, ok ? 'PASS' : 'FAIL']))}`,
  ].join('\n');
  const files = writeResults('overload', { machine: await machine(), busy, runs, checks }, md);
  log(`results: ${files.markdown}`);
  return checks.every(([, , ok]) => ok) ? 0 : 1;
}

runMain(main);
