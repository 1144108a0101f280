#!/usr/bin/env node
// Overload benchmark (issue 14): open-loop arrivals of the session scenario's requests at 1x, 2x
// and 4x of the capacity it first measures on this machine, with admission control (the
// production defaults, plus any --variant) and without (ADMISSION_CONTROL=false). Both apps run
// side by side on one scratch database and the phases alternate between them (round by round,
// rate by rate, the order flipped every round), so a noisy neighbour on the shared machine hits
// both alike; each table cell is the median over --rounds with the spread (min-max) beside it:
//   goodput (2xx/s), p99 of admitted (2xx) requests, OVERLOADED count, p99 and max answer time,
//   /health/live p99 and any 503, other failures (any other non-2xx, network errors, timeouts),
//   app and generator CPU, how late the generator sent (p99).
// Targets with admission control: goodput at 4x >= 90% of 1x; admitted p99 <= 3x the unloaded
// p99; every OVERLOADED answered in < 10 ms (p99 and max shown); /health/live p99 < 50 ms, never
// 503; no other failure.
//
//   npm run load:overload
//   node test/load/overload.mjs --rounds 3 --phase-s 8 --variant floor8=ADMISSION_MIN_LIMIT=8
//
// The apps are the built one (`dist/src/main.js`), started by this script on a scratch database
// of the shared PostgreSQL (TEST_POSTGRES_URL or --pg-url, superuser; dropped afterwards),
// sessions in memory (no REDIS_URL), LOG_LEVEL info to a file. Signed-in operators send, open
// loop (each request at its scheduled time whatever the previous answers), 40%
// `GET /api/lots?limit=20` (random filters), 40% `GET /api/lots/:id`, 20%
// `POST /api/lots/:id/notes` with CSRF token. Latency counts from the request's intended send
// time (no coordinated omission), on a raw client (lib/raw-http.mjs, far cheaper per request
// than node:http, so the generator does not need more CPU than the refusals it measures) over
// --connections keep-alive connections opened before each phase, as a load balancer keeps to
// its upstream; a request finding all busy waits in the client, and that wait counts. Capacity = 2xx/s of a closed loop at --capacity-concurrency for
// --capacity-s against the app without admission control (the service's own limit, not the
// limiter's); unloaded p99 = one request at a time for 5 s. A probe sends `GET /health/live`
// every 50 ms on its own connection. Not part of npm test; results also go to
// test/load/results/overload-<ts>.*.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { join } from 'node:path';
import { cpus, loadavg, setPriority } from 'node:os';
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
  machineCpuSeconds,
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
import { RawPool, requestBytes } from './lib/raw-http.mjs';

const { values: opts } = parseArgs({
  options: {
    'pg-url': { type: 'string', default: process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    users: { type: 'string', default: '48' },
    'phase-s': { type: 'string', default: '8' },
    rounds: { type: 'string', default: '2' },
    'capacity-s': { type: 'string', default: '6' },
    'capacity-concurrency': { type: 'string', default: '32' },
    // Keep-alive connections of the open-loop generator, opened before each phase.
    connections: { type: 'string', default: '256' },
    multipliers: { type: 'string', default: '1,2,4' },
    'seed-lots': { type: 'string', default: '2000' },
    // Extra env for every app (e.g. DB_POOL_SIZE=20).
    'app-env': { type: 'string', multiple: true, default: [] },
    // More apps with admission control: `name=KEY=value,KEY=value` (e.g. floor8=ADMISSION_MIN_LIMIT=8).
    variant: { type: 'string', multiple: true, default: [] },
    // Only the named runs (default all): `on` (defaults), `off`, and the variants' names.
    only: { type: 'string' },
    'keep-logs': { type: 'boolean', default: false },
    'generator-nice': { type: 'string', default: '' },
    'app-node-args': { type: 'string', default: '' },
  },
});
const USERS = Number(opts.users);
const PHASE_S = Number(opts['phase-s']);
const ROUNDS = Number(opts.rounds);
const CAPACITY_S = Number(opts['capacity-s']);
const CAPACITY_CONCURRENCY = Number(opts['capacity-concurrency']);
const MULTIPLIERS = opts.multipliers.split(',').map(Number);
const CONNECTIONS = Number(opts.connections);
const REQUEST_TIMEOUT_MS = 10_000;
const STATUSES = ['queued', 'running', 'hold', 'done'];
const log = (line) => process.stdout.write(`${line}\n`);
const runId = randomBytes(3).toString('hex');
const PASSWORD = `ovl-${randomBytes(9).toString('base64url')}`;
const GENERATOR_NICE = opts['generator-nice'] === '' ? null : Number(opts['generator-nice']);
if (GENERATOR_NICE !== null && !(Number.isInteger(GENERATOR_NICE) && GENERATOR_NICE >= -20 && GENERATOR_NICE <= 19)) throw new Error('--generator-nice takes a whole number from -20 to 19 (negative needs root; write --generator-nice=-10)');
const kv = (pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)];

const VARIANTS = [
  { name: 'on', label: 'with admission control (defaults)', env: { ADMISSION_CONTROL: 'true' } },
  ...opts.variant.map((spec) => {
    const [name, rest] = kv(spec);
    return { name, label: `with admission control, ${rest.replaceAll(',', ' ')}`, env: { ADMISSION_CONTROL: 'true', ...Object.fromEntries(rest.split(',').map(kv)) } };
  }),
  { name: 'off', label: 'without admission control (ADMISSION_CONTROL=false)', env: { ADMISSION_CONTROL: 'false' } },
].filter((v) => !opts.only || opts.only.split(',').includes(v.name) || v.name === 'off');

async function startApp(dbUrl, variant) {
  const port = await freePort();
  const env = {
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: dbUrl,
    SEED_LOTS: opts['seed-lots'],
    ADMIN_BOOTSTRAP_PASSWORD: `admin-${randomBytes(12).toString('base64url')}`,
    SESSION_SECRET: randomBytes(32).toString('base64url'),
    RATE_LIMIT_ACCOUNT_PER_MIN: '100000000',
    ...Object.fromEntries(opts['app-env'].map(kv)),
    ...variant.env,
  };
  const logFile = join('/tmp', `rampart-overload-${runId}-${variant.name}.log`);
  const app = await spawnNode({ nodeArgs: opts['app-node-args'] ? opts['app-node-args'].split(' ') : [], env, logFile, name: `rampart (${variant.name})`, readyUrl: `http://127.0.0.1:${port}/health/live`, readyTimeoutMs: 120_000 });
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

/** The bytes of request `n` of the scenario's mix. */
function scenarioBytes(target, sessions, lotIds, n) {
  const session = sessions[n % sessions.length];
  const lot = lotIds[(n * 7919) % lotIds.length];
  const kind = n % 5;
  const headers = { accept: 'application/json', cookie: session.cookie };
  if (kind < 2) {
    const status = Math.random() < 0.8 ? `&status=${STATUSES[n % STATUSES.length]}` : '';
    return requestBytes('GET', `/api/lots?limit=20${status}`, target.host, headers);
  }
  if (kind < 4) return requestBytes('GET', `/api/lots/${lot}`, target.host, headers);
  Object.assign(headers, { 'content-type': 'application/json', origin: target.origin, 'x-csrf-token': session.csrf });
  return requestBytes('POST', `/api/lots/${lot}/notes`, target.host, headers, JSON.stringify({ text: `overload ${runId} ${n}` }));
}

/** node:http, for the probe only: one request every 50 ms. */
function send(agent, target, method, path, headers) {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = http.request({ agent, hostname: target.hostname, port: target.port, method, path, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - started }));
      res.on('error', (error) => resolve({ error: error.message, ms: performance.now() - started }));
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve({ error: error.message, ms: performance.now() - started }));
    req.end();
  });
}

/** Closed loop at `concurrency` for `seconds`: 2xx/s and the 2xx latencies. */
async function closedLoop(url, sessions, lotIds, concurrency, seconds) {
  const target = new URL(url);
  const pool = new RawPool({ host: target.hostname, port: Number(target.port), timeoutMs: REQUEST_TIMEOUT_MS });
  const ok = new Samples();
  let n = 0;
  let failures = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const r = await pool.send(scenarioBytes(target, sessions, lotIds, n++), performance.now());
        if (r.status >= 200 && r.status < 300) ok.push(r.ms);
        else failures += 1;
      }
    }),
  );
  pool.destroy();
  return { rps: ok.length / seconds, latency: ok.summary(), failures };
}

/** Open loop at `rate` req/s for `seconds`: each request at its time, whatever the answers so far. */
async function openLoop(url, sessions, lotIds, rate, seconds) {
  const target = new URL(url);
  const pool = new RawPool({ host: target.hostname, port: Number(target.port), timeoutMs: REQUEST_TIMEOUT_MS, max: CONNECTIONS });
  await pool.warm(CONNECTIONS);
  const admitted = new Samples();
  const overloaded = new Samples();
  const late = new Samples();
  const other = {};
  let sent = 0;
  let after = 0;
  const pending = [];
  const started = performance.now();
  const end = started + seconds * 1000;
  const cpu = process.cpuUsage();
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      const due = Math.floor(((Math.min(now, end) - started) / 1000) * rate);
      while (sent < due) {
        const intended = started + (sent * 1000) / rate;
        late.push(now - intended);
        const p = pool.send(scenarioBytes(target, sessions, lotIds, sent), intended).then((r) => {
          // Goodput is what the server delivered within the window; answers after it are late.
          if (!r.error && r.status >= 200 && r.status < 300 && performance.now() > end) after += 1;
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
  const used = process.cpuUsage(cpu);
  await Promise.all(pending);
  const connections = pool.opened;
  const clientQueueMax = pool.queuedMax;
  pool.destroy();
  return { admitted, overloaded, other, sent, after, late, connections, clientQueueMax, clientCpu: (used.user + used.system) / 1e6 / seconds };
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
  // prom-client resets its event-loop delay histogram at every scrape: since the last one.
  const loopP99Ms = Number(/^nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(text)?.[1] ?? NaN) * 1000;
  const shed = {};
  for (const m of text.matchAll(/^rampart_admission_shed_total\{lane="([^"]+)",reason="([^"]+)"\} (\d+)$/gm)) shed[`${m[1]}/${m[2]}`] = Number(m[3]);
  return { limit, shed, loopP99Ms };
}

async function measurePhase(run, m, rate) {
  await admissionState(run.url);
  const cpuBefore = treeCpuSeconds(run.app.pid);
  const machineBefore = machineCpuSeconds();
  const generatorLag = monitorEventLoopDelay({ resolution: 10 });
  generatorLag.enable();
  const load1 = loadavg()[0];
  const r = await phase(run.url, run.sessions, run.lotIds, rate, PHASE_S);
  generatorLag.disable();
  const cpuAfter = treeCpuSeconds(run.app.pid);
  const machineAfter = machineCpuSeconds();
  const admission = await admissionState(run.url);
  const a = r.admitted.summary();
  const o = r.overloaded.summary();
  const l = r.live.summary();
  const otherCount = Object.values(r.other).reduce((s, v) => s + v, 0);
  const row = {
    multiplier: m,
    rate,
    sent: r.sent,
    goodput: (r.admitted.length - r.after) / PHASE_S,
    after2xx: r.after,
    appCpu: (cpuAfter.node - cpuBefore.node) / PHASE_S,
    // Cores busy on the whole machine (of its cores), everyone included: the noise figure.
    machineBusy: (machineAfter.busy - machineBefore.busy) / ((machineAfter.total - machineBefore.total) / cpus().length),
    appLoopP99: admission.loopP99Ms,
    clientCpu: r.clientCpu,
    generatorLagP99: generatorLag.percentile(99) / 1e6,
    sendLateP99: r.late.summary().p99,
    connections: r.connections,
    clientQueueMax: r.clientQueueMax,
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
  log(
    `  ${run.variant.name} ${m}x (${rate}/s): goodput ${fmt(row.goodput, 0)}/s, admitted p99 ${fmt(a.p99)} ms, OVERLOADED ${row.overloaded} (p99 ${fmt(o.p99)} max ${fmt(o.max)} ms), live p99 ${fmt(l.p99)} ms 503s ${r.live503}, other ${otherCount}${otherCount ? ` ${JSON.stringify(r.other)}` : ''}; app CPU ${fmt(row.appCpu, 2)} machine busy ${fmt(row.machineBusy, 2)} cores, app loop p99 ${fmt(row.appLoopP99)} ms, client CPU ${fmt(row.clientCpu, 2)} send late p99 ${fmt(row.sendLateP99)} ms, ${row.connections} conns, client queue max ${row.clientQueueMax}; limit ${admission.limit}, shed ${JSON.stringify(admission.shed)}`,
  );
  return row;
}

const median = (values) => {
  const v = values.filter((x) => x !== null && x !== undefined && !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
const spread = (values, digits = 1) => {
  const v = values.filter((x) => x !== null && x !== undefined && !Number.isNaN(x));
  if (v.length === 0) return '-';
  const med = fmt(median(v), digits);
  return v.length === 1 ? med : `${med} (${fmt(Math.min(...v), digits)}-${fmt(Math.max(...v), digits)})`;
};

/** Per rate: the rounds' rows folded into medians (the verdicts) with min-max beside them. */
function fold(rows) {
  return MULTIPLIERS.map((m) => {
    const rs = rows.filter((r) => r.multiplier === m);
    const pick = (k) => rs.map((r) => r[k]);
    const med = (k) => median(pick(k));
    return {
      multiplier: m,
      rate: rs[0]?.rate,
      rows: rs,
      goodput: med('goodput'),
      admittedP99: med('admittedP99'),
      overloadedP99: med('overloadedP99'),
      overloadedMax: Math.max(0, ...pick('overloadedMax').filter((x) => x !== null)),
      liveP99: med('liveP99'),
      live503: pick('live503').reduce((s, v) => s + v, 0),
      other: pick('other').reduce((s, v) => s + v, 0) + pick('liveOther').reduce((s, v) => s + v, 0),
    };
  });
}

function table(folded, unloadedP99) {
  const header = ['rate', 'arrivals/s', 'goodput 2xx/s', 'admitted p50 ms', 'admitted p99 ms', 'OVERLOADED', 'OVERLOADED p99 ms', 'OVERLOADED max ms', '/health/live p99 ms', 'live 503', 'other failures', 'app loop p99 ms', 'app CPU', 'client CPU', 'machine busy cores', 'send late p99 ms'];
  const body = folded.map((f) => {
    const p = (k) => f.rows.map((r) => r[k]);
    return [
      `${f.multiplier}x`,
      String(f.rate),
      spread(p('goodput'), 0),
      spread(p('admittedP50')),
      `${spread(p('admittedP99'))}${unloadedP99 && f.admittedP99 ? ` =${fmt(f.admittedP99 / unloadedP99)}x` : ''}`,
      spread(p('overloaded'), 0),
      spread(p('overloadedP99')),
      f.overloadedMax ? fmt(f.overloadedMax) : '-',
      spread(p('liveP99')),
      String(f.live503),
      String(f.other),
      spread(p('appLoopP99')),
      spread(p('appCpu'), 2),
      spread(p('clientCpu'), 2),
      spread(p('machineBusy'), 2),
      spread(p('sendLateP99')),
    ];
  });
  return { header, body };
}

function verdicts(folded, unloadedP99) {
  const base = folded.find((r) => r.multiplier === 1);
  const top = folded.find((r) => r.multiplier === 4);
  const checks = [];
  if (base && top) checks.push([`goodput at 4x >= 90% of 1x (medians)`, `${fmt((top.goodput / base.goodput) * 100, 0)}%`, top.goodput >= 0.9 * base.goodput]);
  const worstP99 = Math.max(...folded.map((r) => r.admittedP99 ?? 0));
  checks.push([`admitted p99 <= 3x unloaded p99 (${fmt(unloadedP99)} ms; worst rate's median)`, `${fmt(worstP99)} ms`, worstP99 <= 3 * unloadedP99]);
  const worstOverloaded = Math.max(0, ...folded.map((r) => r.overloadedP99 ?? 0));
  checks.push(['OVERLOADED answered in < 10 ms (p99, worst rate median)', `${fmt(worstOverloaded)} ms`, worstOverloaded < 10]);
  const maxOverloaded = Math.max(0, ...folded.map((r) => r.overloadedMax ?? 0));
  checks.push(['every OVERLOADED answered in < 10 ms (max of all rounds)', `${fmt(maxOverloaded)} ms`, maxOverloaded < 10]);
  const worstLive = Math.max(...folded.map((r) => r.liveP99 ?? 0));
  checks.push(['/health/live p99 < 50 ms', `${fmt(worstLive)} ms`, worstLive < 50]);
  const live503 = folded.reduce((s, r) => s + r.live503, 0);
  checks.push(['/health/live never 503', String(live503), live503 === 0]);
  const other = folded.reduce((s, r) => s + r.other, 0);
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
  const first = await startApp(db.url, VARIANTS[0]);
  await first.app.stop();
  const { names, lotIds } = await createUsers(db.url);

  const runs = [];
  try {
    for (const variant of VARIANTS) {
      const started = await startApp(db.url, variant);
      const run = { variant, ...started, lotIds, rows: [] };
      runs.push(run);
      run.sessions = await signIn(run.url, names);
      // Warm-up: JIT, pool connections, the limit's no-load latency.
      await closedLoop(run.url, run.sessions, lotIds, 4, 3);
    }
    // After the apps started (they keep the default priority): see --generator-nice in the README.
    if (GENERATOR_NICE !== null) setPriority(GENERATOR_NICE);
    const off = runs.find((r) => r.variant.name === 'off');
    for (const run of runs) {
      run.unloaded = await closedLoop(run.url, run.sessions, lotIds, 1, 5);
      log(`unloaded ${run.variant.name} (one at a time, 5 s): ${fmt(run.unloaded.rps, 0)} req/s, p50 ${fmt(run.unloaded.latency.p50)} ms, p99 ${fmt(run.unloaded.latency.p99)} ms`);
    }
    const unloadedP99 = off.unloaded.latency.p99;
    const cap = await closedLoop(off.url, off.sessions, lotIds, CAPACITY_CONCURRENCY, CAPACITY_S);
    log(`capacity (without admission control, closed loop, ${CAPACITY_CONCURRENCY} at once, ${CAPACITY_S} s): ${fmt(cap.rps, 0)} 2xx/s, p99 ${fmt(cap.latency.p99)} ms, failures ${cap.failures}`);
    await sleep(2000);
    for (let round = 0; round < ROUNDS; round += 1) {
      log(`round ${round + 1}/${ROUNDS}`);
      for (const m of MULTIPLIERS) {
        const order = round % 2 === 0 ? runs : [...runs].reverse();
        for (const run of order) {
          run.rows.push(await measurePhase(run, m, Math.round(cap.rps * m)));
          // Let queues drain before the next phase.
          await sleep(2000);
        }
      }
    }
    for (const run of runs) {
      run.shedLogLines = (await import('node:fs')).readFileSync(run.logFile, 'utf8').split('\n').filter((l) => l.includes('admission control: shedding')).length;
    }

    const out = [];
    out.push(
      `capacity ${fmt(cap.rps, 0)} 2xx/s (without admission control, closed loop, ${CAPACITY_CONCURRENCY} at once), unloaded p99 ${fmt(unloadedP99)} ms (${runs.map((r) => `${r.variant.name} ${fmt(r.unloaded.latency.p99)}`).join(', ')}); ${PHASE_S} s per phase, ${ROUNDS} rounds alternating; ${USERS} signed-in users${GENERATOR_NICE === null ? '' : `; generator at nice ${GENERATOR_NICE}`}; cells: median (min-max)`,
    );
    const checks = [];
    for (const run of runs) {
      run.folded = fold(run.rows);
      const t = table(run.folded, unloadedP99);
      out.push(`\n${run.variant.label} (shedding log lines: ${run.shedLogLines})\n${textTable(t.header, t.body)}`);
      if (run.variant.name !== 'off') for (const [check, value, ok] of verdicts(run.folded, unloadedP99)) checks.push([`${run.variant.name}: ${check}`, value, ok]);
    }
    out.push(`\ntargets (with admission control)\n${textTable(['check', 'measured', 'result'], checks.map(([c, m, ok]) => [c, m, ok ? 'PASS' : 'FAIL']))}`);
    out.push(`\nload average after: ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
    log(`\n${out.join('\n')}`);

    const md = [
      `# Overload benchmark ${new Date().toISOString()}`,
      warning ?? '',
      out[0],
      ...runs.map((run) => {
        const t = table(run.folded, unloadedP99);
        return `\n## ${run.variant.label}\n\n${markdownTable(t.header, t.body)}`;
      }),
      `\n## Targets\n\n${markdownTable(['check', 'measured', 'result'], checks.map(([c, m, ok]) => [c, m, ok ? 'PASS' : 'FAIL']))}`,
    ].join('\n');
    const files = writeResults('overload', { machine: await machine(), busy, capacity: cap.rps, unloadedP99, runs: runs.map((r) => ({ name: r.variant.name, label: r.variant.label, rows: r.rows, shedLogLines: r.shedLogLines })), checks }, md);
    log(`results: ${files.markdown}`);
    return checks.every(([, , ok]) => ok) ? 0 : 1;
  } finally {
    for (const run of runs) {
      await run.app.stop();
      if (!opts['keep-logs']) (await import('node:fs')).rmSync(run.logFile, { force: true });
    }
  }
}

runMain(main);
