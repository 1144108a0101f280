#!/usr/bin/env node
// The benchmark of issues 8 and 17, in one run on this machine:
//  1. four apps side by side, autocannon, 50 connections, each run measured in rounds whose
//     order alternates (forward, then backward), so a drift of the machine's speed during the run
//     (a noisy neighbour) hits every app alike; ratios are the medians of the rounds' ratios:
//       bare    test/load/bare-app.mjs   a bare NestJS app: GET /bench/json, GET /bench/db/1
//       peer    test/load/peer-app.mjs   the field's standard libraries doing Rampart's duties
//               (helmet, express-session + connect-redis, csrf-sync, @nestjs/throttler with
//               Redis storage keyed by user, nestjs-pino access log, prom-client, auth guard)
//       floor   test/load/floor-app.mjs  only the unavoidable Redis work: one pipelined GET + INCR
//       Rampart the whole stack: GET /api/auth/me (authenticated, no DB) and GET /api/lots/1
//     JSON route: Rampart >= 2x the peer and >= 0.9x the floor; database route: Rampart >= 0.85x
//     the bare app running the same SQL (GET /bench/db1/1; also shown: the bare app with the
//     three queries the route made before issue 17, GET /bench/db/1). Per run: req/s, p50/p99, the app's CPU per
//     request (its Node processes, /proc) and the Redis server's CPU per request (INFO cpu; the
//     shared Redis, so other users of it show up as noise, most visibly for the bare app);
//  2. health latency with the main pool exhausted: Rampart with DB_POOL_SIZE=2 and no overflow,
//     both connections blocked on a table lock and more requests queued behind them, while
//     /health/live and /health/ready are hammered.
// Needs PostgreSQL on 127.0.0.1:5432 (a fresh database, created and dropped here) and Redis on
// 127.0.0.1:6379 (a unique key prefix, deleted afterwards; never flushed). Exits 1 when a target
// fails (--no-gate: always 0 unless the run itself breaks). See test/load/README.md.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import pg from 'pg';
import {
  busyWarning,
  createScratchDatabase,
  scratchRedisPrefix,
  cpuBusy,
  fmt,
  freePort,
  MAIN_JS,
  machine,
  markdownTable,
  nodeTreeRssMb,
  onCleanup,
  requireBuild,
  runMain,
  sleep,
  spawnNode,
  textTable,
  treeCpuSeconds,
  writeResults,
} from './lib/common.mjs';
import { parseJson, signedInCookie, VirtualUser } from './lib/http-client.mjs';

const TARGETS = { jsonPeer: 2, jsonFloor: 0.9, db: 0.85 };

/** The runs of one round, in their forward order; odd rounds run them backwards. */
const RUNS = [
  { key: 'jsonBare', route: 'JSON', app: 'bare', label: 'JSON  bare    GET /bench/json' },
  { key: 'jsonPeer', route: 'JSON', app: 'peer', label: 'JSON  peer    GET /api/auth/me' },
  { key: 'jsonFloor', route: 'JSON', app: 'floor', label: 'JSON  floor   GET /api/auth/me' },
  { key: 'jsonRampart', route: 'JSON', app: 'rampart', label: 'JSON  Rampart GET /api/auth/me' },
  { key: 'dbBare', route: 'DB', app: 'bare', label: 'DB    bare    GET /bench/db/1 (3 queries)' },
  { key: 'dbBare1', route: 'DB', app: 'bare', label: 'DB    bare    GET /bench/db1/1 (Rampart SQL)' },
  { key: 'dbRampart', route: 'DB', app: 'rampart', label: 'DB    Rampart GET /api/lots/1' },
];

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    // Pairs measured back to back, several times: the ratio is the median of the rounds' ratios,
    // so a drift of the machine's speed during the run (a noisy neighbour) hits both apps alike.
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    'seed-lots': { type: 'string', default: '100000' },
    'health-duration': { type: 'string', default: '5' },
    'pg-url': { type: 'string', default: process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    'redis-url': { type: 'string', default: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379' },
    'no-gate': { type: 'boolean', default: false },
    'keep-logs': { type: 'boolean', default: false },
    // Another build of Rampart, e.g. an export of the previous commit for a before/after pair.
    'rampart-main': { type: 'string', default: '' },
    // e.g. --rampart-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof" (the full-stack instance)
    'rampart-node-args': { type: 'string', default: '' },
    // Extra variables for the full-stack instance, for experiments: --rampart-env LOG_LEVEL=warn
    'rampart-env': { type: 'string', multiple: true, default: [] },
    // Skip the pool-exhaustion part (quicker when profiling the throughput runs).
    'skip-health': { type: 'boolean', default: false },
    // Only the four JSON runs (quicker when profiling that route); the DB check is then not made.
    'json-only': { type: 'boolean', default: false },
  },
});
const duration = Number(opts.duration);
const warmup = Number(opts.warmup);
const connections = Number(opts.connections);
const healthDuration = Number(opts['health-duration']);
const rounds = Number(opts.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds takes a whole number of at least 1');
const runsMeasured = opts['json-only'] ? RUNS.filter((run) => run.route === 'JSON') : RUNS;
const POOL_SIZE = 10; // Rampart's defaults: DB_POOL_SIZE 10 + DB_POOL_MAX_OVERFLOW 5
const POOL_MAX = 15;

let rampartEnvShown = {};
const log = (line) => process.stdout.write(`${line}\n`);



/** One autocannon run; latencies in ms. */
async function cannon(label, url, { headers = {}, seconds = duration, warm = warmup, conns = connections, pid, redis } = {}) {
  // CPU per request of the server's Node processes (its main thread and libuv/GC threads):
  // less sensitive to a noisy neighbour than requests/s. Counted over warm-up + run.
  const cpuBefore = pid ? treeCpuSeconds(pid).node : 0;
  const redisBefore = redis ? await redisCpuSeconds(redis) : 0;
  const result = await autocannon({
    url,
    connections: conns,
    duration: seconds,
    headers,
    warmup: warm > 0 ? { connections: conns, duration: warm } : undefined,
  });
  const cpuSeconds = pid ? treeCpuSeconds(pid).node - cpuBefore : null;
  const redisSeconds = redis ? (await redisCpuSeconds(redis)) - redisBefore : null;
  const allRequests = result.requests.total + (result.warmup?.requests?.total ?? 0);
  const out = {
    label,
    url: new URL(url).pathname,
    connections: conns,
    durationS: seconds,
    rps: result.requests.average,
    requests: result.requests.total,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    cpuUsPerReq: cpuSeconds === null || allRequests === 0 ? undefined : (cpuSeconds * 1e6) / allRequests,
    redisUsPerReq: redisSeconds === null || allRequests === 0 ? undefined : (redisSeconds * 1e6) / allRequests,
  };
  log(
    `  ${label.padEnd(34)} ${fmt(out.rps, 0).padStart(7)} req/s  p50 ${fmt(out.p50, 0)} ms  p99 ${fmt(out.p99, 0)} ms` +
      (out.cpuUsPerReq === undefined ? '' : `  ${fmt(out.cpuUsPerReq, 0)} us CPU/req`) +
      (out.redisUsPerReq === undefined ? '' : `  Redis ${fmt(out.redisUsPerReq, 1)} us/req`) +
      (out.non2xx + out.errors + out.timeouts > 0 ? `  (non-2xx ${out.non2xx}, errors ${out.errors}, timeouts ${out.timeouts})` : ''),
  );
  return out;
}

/** The Redis server's CPU seconds so far (user + system, main thread and children). */
async function redisCpuSeconds(redis) {
  const info = await redis.info('cpu');
  const field = (name) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? 0);
  return field('used_cpu_sys') + field('used_cpu_user');
}

async function expectOk(label, url, headers = {}) {
  const response = await fetch(url, { headers });
  const body = await response.text();
  if (response.status !== 200) throw new Error(`${label}: GET ${url} answered ${response.status}: ${body.slice(0, 300)}`);
  return body;
}

const adminSession = (baseUrl, password) => signedInCookie(baseUrl, 'admin', password);

async function main() {
  requireBuild();
  const startedAt = new Date();
  const dir = mkdtempSync(join(tmpdir(), 'rampart-bench-'));
  onCleanup(`remove ${dir}`, () => (opts['keep-logs'] ? log(`kept ${dir}`) : rmSync(dir, { recursive: true, force: true })));
  const db = await createScratchDatabase(opts['pg-url'], 'rampart_bench');
  const prefix = await scratchRedisPrefix(opts['redis-url'], 'rbench');
  const redis = new Redis(opts['redis-url'], { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  onCleanup('close the INFO connection', () => redis.quit().catch(() => undefined));
  const adminPassword = `bench-${randomBytes(12).toString('base64url')}`;
  const rampartEnv = {
    HOST: '127.0.0.1',
    DATABASE_URL: db.url,
    REDIS_URL: opts['redis-url'],
    REDIS_KEY_PREFIX: prefix,
    SESSION_SECRET: randomBytes(32).toString('base64url'),
    ADMIN_BOOTSTRAP_PASSWORD: adminPassword,
    // One admin session drives 50 connections: ~100x the per-account budget of 100/min.
    RATE_LIMIT_ACCOUNT_PER_MIN: '100000000',
    ...Object.fromEntries(opts['rampart-env'].map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
  };
  rampartEnvShown = rampartEnv;
  const shownEnv = { ...rampartEnv, DATABASE_URL: `(fresh database ${db.name})`, SESSION_SECRET: '(random)', ADMIN_BOOTSTRAP_PASSWORD: '(random)' };
  const rampartMain = opts['rampart-main'] || MAIN_JS;

  // --- Rampart, full stack, seeding on first start ------------------------------------------
  const port = await freePort();
  log(`starting Rampart ${rampartMain === MAIN_JS ? '' : `(${rampartMain}) `}(database ${db.name}, SEED_LOTS ${opts['seed-lots']}, Redis prefix ${prefix})...`);
  let t = Date.now();
  const rampart = await spawnNode({
    script: rampartMain,
    env: { ...rampartEnv, PORT: String(port), SEED_LOTS: opts['seed-lots'] },
    nodeArgs: opts['rampart-node-args'].split(/\s+/).filter(Boolean),
    logFile: join(dir, 'rampart.log'),
    readyUrl: `http://127.0.0.1:${port}/health/live`,
    name: 'rampart',
    readyTimeoutMs: 300_000,
  });
  const startupS = (Date.now() - t) / 1000;
  const seeded = rampart.log().split('\n').find((line) => line.includes('demo data seeded'));
  const seedMs = Number(/"ms":(\d+)/.exec(seeded ?? '')?.[1] ?? NaN);
  log(`Rampart pid ${rampart.pid} ready after ${startupS.toFixed(1)} s (seeding ${Number.isNaN(seedMs) ? '?' : (seedMs / 1000).toFixed(1)} s)`);
  const rampartUrl = `http://127.0.0.1:${port}`;
  const cookie = await adminSession(rampartUrl, adminPassword);
  const auth = { cookie };
  const rampartMe = await expectOk('Rampart JSON route', `${rampartUrl}/api/auth/me`, auth);
  const { user } = JSON.parse(rampartMe);

  const barePort = await freePort();
  const bare = await spawnNode({
    script: join('test', 'load', 'bare-app.mjs'),
    env: { PORT: String(barePort), DATABASE_URL: db.url, POOL_MAX: String(POOL_MAX) },
    logFile: join(dir, 'bare.log'),
    name: 'bare app',
    readyUrl: `http://127.0.0.1:${barePort}/bench/json`,
  });
  const bareUrl = `http://127.0.0.1:${barePort}`;

  const peerPort = await freePort();
  const peer = await spawnNode({
    script: join('test', 'load', 'peer-app.mjs'),
    env: {
      PORT: String(peerPort),
      REDIS_URL: opts['redis-url'],
      KEY_PREFIX: `${prefix}peer:`,
      SESSION_SECRET: randomBytes(32).toString('base64url'),
      PEER_PASSWORD: adminPassword,
      PEER_USER: JSON.stringify(user),
      ACCESS_LOG: join(dir, 'peer-access.log'),
    },
    logFile: join(dir, 'peer.log'),
    name: 'peer app',
    readyUrl: `http://127.0.0.1:${peerPort}/api/auth/csrf`,
  });
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const peerAuth = { cookie: await adminSession(peerUrl, adminPassword) };

  const floorPort = await freePort();
  const floor = await spawnNode({
    script: join('test', 'load', 'floor-app.mjs'),
    env: { PORT: String(floorPort), REDIS_URL: opts['redis-url'], KEY_PREFIX: `${prefix}floor:` },
    logFile: join(dir, 'floor.log'),
    name: 'floor app',
    readyUrl: `http://127.0.0.1:${floorPort}/api/auth/me`,
  });
  const floorUrl = `http://127.0.0.1:${floorPort}`;
  const floorSid = randomBytes(18).toString('base64url');
  await redis.set(`${prefix}floor:sess:${floorSid}`, JSON.stringify({ createdAt: Date.now(), user }), 'PX', 3_600_000);
  const floorAuth = { cookie: `sid=${floorSid}` };

  for (const [label, url, headers] of [['peer', peerUrl, peerAuth], ['floor', floorUrl, floorAuth]]) {
    const body = await expectOk(`${label} JSON route`, `${url}/api/auth/me`, headers);
    if (body !== rampartMe) throw new Error(`the ${label} app's GET /api/auth/me answers ${body}, Rampart ${rampartMe}`);
  }
  const rampartLot = JSON.parse(await expectOk('Rampart DB route', `${rampartUrl}/api/lots/1`, auth));
  const bareLot = JSON.parse(await expectOk('bare DB route', `${bareUrl}/bench/db/1`));
  const bareLot1 = JSON.parse(await expectOk('bare DB route (Rampart SQL)', `${bareUrl}/bench/db1/1`));
  await expectOk('bare JSON route', `${bareUrl}/bench/json`);
  if (rampartLot.code !== bareLot.code || rampartLot.events.length !== bareLot.events.length || rampartLot.notes.length !== bareLot.notes.length) {
    throw new Error('the bare DB route does not return what Rampart returns for lot 1');
  }
  // Events at the same time may come in either order.
  const normalised = (lot) => JSON.stringify({ ...lot, events: [...lot.events].sort((a, b) => a.id - b.id) });
  if (normalised(rampartLot) !== normalised(bareLot1)) throw new Error('GET /bench/db1/1 does not answer what Rampart answers for lot 1');
  const [{ lots, events }] = (await queryOnce(db.url, 'SELECT (SELECT count(*) FROM lots)::int AS lots, (SELECT count(*) FROM lot_events)::int AS events'));

  // --- 1. four apps, rounds in alternating order ----------------------------------------------
  const target = {
    jsonBare: { url: `${bareUrl}/bench/json`, pid: bare.pid },
    jsonPeer: { url: `${peerUrl}/api/auth/me`, headers: peerAuth.cookie ? peerAuth : {}, pid: peer.pid },
    jsonFloor: { url: `${floorUrl}/api/auth/me`, headers: floorAuth, pid: floor.pid },
    jsonRampart: { url: `${rampartUrl}/api/auth/me`, headers: auth, pid: rampart.pid },
    dbBare: { url: `${bareUrl}/bench/db/1`, pid: bare.pid },
    dbBare1: { url: `${bareUrl}/bench/db1/1`, pid: bare.pid },
    dbRampart: { url: `${rampartUrl}/api/lots/1`, headers: auth, pid: rampart.pid },
  };
  const apps = { rampart, bare, peer, floor };
  await sleep(2000); // let the startup work (report cache, first health) settle
  const memory = Object.fromEntries(Object.entries(apps).map(([name, app]) => [name, { beforeMb: nodeTreeRssMb(app.pid) }]));
  const busyBefore = await cpuBusy(2000, Object.values(apps).map((app) => app.pid));
  const warning = busyWarning(busyBefore);
  if (warning) log(warning);
  log(`\nthroughput (${connections} connections, ${warmup} s warm-up + ${duration} s each, ${rounds} rounds, order alternating):`);
  const measured = [];
  for (let i = 1; i <= rounds; i += 1) {
    const order = i % 2 === 1 ? runsMeasured : [...runsMeasured].reverse();
    log(` round ${i} of ${rounds} (${i % 2 === 1 ? 'forward' : 'backward'})`);
    const round = {};
    for (const run of order) round[run.key] = await cannon(run.label, target[run.key].url, { headers: target[run.key].headers, pid: target[run.key].pid, redis });
    measured.push(round);
  }
  const roundRatios = measured.map((x) => ({
    jsonPeer: x.jsonRampart.rps / x.jsonPeer.rps,
    jsonFloor: x.jsonRampart.rps / x.jsonFloor.rps,
    jsonBare: x.jsonRampart.rps / x.jsonBare.rps,
    ...(x.dbRampart && { db: x.dbRampart.rps / x.dbBare1.rps, dbThreeQueries: x.dbRampart.rps / x.dbBare.rps }),
  }));
  // The table shows, per route and app, the run with the median requests/s.
  const runs = Object.fromEntries(runsMeasured.map(({ key }) => [key, medianBy(measured.map((x) => x[key]), (x) => x.rps)]));
  for (const [name, app] of Object.entries(apps)) memory[name].afterMb = nodeTreeRssMb(app.pid);
  await Promise.all([bare.stop(), peer.stop(), floor.stop(), rampart.stop()]);

  // --- 2. health with the main pool exhausted -------------------------------------------------
  const health = opts['skip-health'] ? null : await measureHealth({ rampartEnv, dir, adminPassword, db, rampartMain });

  // --- report ----------------------------------------------------------------------------------
  const ratio = Object.fromEntries(Object.keys(roundRatios[0]).map((k) => [k, medianBy(roundRatios, (x) => x[k])[k]]));
  const failedRuns = measured.flatMap((x) => Object.values(x)).filter((r) => r.non2xx + r.errors + r.timeouts > 0);
  const spread = (k) => roundRatios.map((x) => x[k]);
  const checks = [
    { check: 'JSON route: Rampart / peer req/s', target: `>= ${TARGETS.jsonPeer}x`, actual: ratioText(ratio.jsonPeer, spread('jsonPeer')), pass: ratio.jsonPeer >= TARGETS.jsonPeer },
    { check: 'JSON route: Rampart / floor req/s', target: `>= ${TARGETS.jsonFloor}x`, actual: ratioText(ratio.jsonFloor, spread('jsonFloor')), pass: ratio.jsonFloor >= TARGETS.jsonFloor },
    ...(ratio.db === undefined
      ? []
      : [{ check: 'DB route: Rampart / bare (same SQL) req/s', target: `>= ${TARGETS.db}x`, actual: ratioText(ratio.db, spread('db')), pass: ratio.db >= TARGETS.db }]),
    { check: 'no errors in the throughput runs', target: '0', actual: String(failedRuns.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0)), pass: failedRuns.length === 0 },
  ];
  if (health) {
    const { live, ready, blockedAtEnd } = health.exhausted;
    const bad = [live, ready].filter((x) => x.non2xx + x.errors + x.timeouts > 0 || x.p99 >= 1000);
    checks.push({
      check: 'health with the main pool exhausted',
      target: 'all 200, p99 < 1000 ms',
      actual: `live ${live.non2xx} non-2xx p99 ${fmt(live.p99, 0)} ms, ready ${ready.non2xx} non-2xx p99 ${fmt(ready.p99, 0)} ms`,
      pass: bad.length === 0 && blockedAtEnd >= 2,
    });
  }
  // A partial run judges nothing: the targets are met only by the whole run.
  const passed = !opts['json-only'] && checks.every((c) => c.pass);

  const header = ['route', 'app', 'req/s', 'req/s rounds', 'p50 ms', 'p99 ms', 'non-2xx/errors', 'app CPU/req', 'Redis CPU/req'];
  // autocannon reports whole milliseconds
  const r = (route, app, x, all = null) => [
    route,
    app,
    fmt(x.rps, 0),
    all ? all.map((y) => fmt(y.rps, 0)).join(' / ') : '',
    fmt(x.p50, 0),
    fmt(x.p99, 0),
    `${x.non2xx}/${x.errors + x.timeouts}`,
    x.cpuUsPerReq === undefined ? '-' : `${fmt(x.cpuUsPerReq, 0)} us`,
    x.redisUsPerReq === undefined ? '-' : `${fmt(x.redisUsPerReq, 1)} us`,
  ];
  const appName = { bare: 'bare NestJS ', peer: 'peer        ', floor: 'floor       ', rampart: 'Rampart     ' };
  const rows = runsMeasured.map((run) => r(run.route, `${appName[run.app]} ${target[run.key].url.replace(/^http:\/\/[^/]+/, '')}`, runs[run.key], measured.map((x) => x[run.key])));
  const healthHeader = ['health (pool of 2)', 'main pool', 'req/s', '', 'p50 ms', 'p99 ms', 'non-2xx/errors', 'app CPU/req', 'Redis CPU/req'];
  const healthRows = health
    ? [
        r('/health/live', 'idle', health.idle.live),
        r('/health/ready', 'idle', health.idle.ready),
        r('/health/live', `exhausted (${health.exhausted.blockedAtStart} blocked + queue)`, health.exhausted.live),
        r('/health/ready', `exhausted (${health.exhausted.blockedAtStart} blocked + queue)`, health.exhausted.ready),
      ]
    : [['(skipped: --skip-health)', '', '', '', '', '', '', '', '']];
  const checkHeader = ['check', 'target', 'actual', 'result'];
  const checkRows = [
    ...checks.map((c) => [c.check, c.target, c.actual, c.pass ? 'PASS' : 'FAIL']),
    ['(info) JSON route: Rampart / bare req/s', '-', ratioText(ratio.jsonBare, spread('jsonBare')), '-'],
    ...(ratio.dbThreeQueries === undefined ? [] : [['(info) DB route: Rampart / bare with the old 3 queries', '-', ratioText(ratio.dbThreeQueries, spread('dbThreeQueries')), '-']]),
  ];
  const memHeader = ['memory (RSS, MiB)', 'before', 'after', 'delta'];
  const memRows = Object.entries(memory).map(([name, x]) => [name, fmt(x.beforeMb, 0), fmt(x.afterMb, 0), fmt(x.afterMb - x.beforeMb, 0)]);
  const m = await machine();
  const context =
    `${m.cpus} CPU (${m.cpuModel}), Node ${m.node}; database ${lots} lots / ${events} events (seeded in ` +
    `${Number.isNaN(seedMs) ? '?' : (seedMs / 1000).toFixed(1)} s); autocannon ${connections} connections, ${warmup} s warm-up + ${duration} s, ${rounds} rounds in alternating order (ratio: median of the rounds' ratios; table: each app's median run, every round's req/s beside it); ` +
    `CPU per request counts warm-up + run; Redis CPU is the shared server's (INFO cpu), other users of it included; ` +
    `Rampart${rampartMain === MAIN_JS ? '' : ` (${rampartMain})`} with Redis sessions (REDIS_URL), LOG_LEVEL ${rampartEnvShown.LOG_LEVEL ?? 'info (default)'}, RATE_LIMIT_ACCOUNT_PER_MIN=100000000 (one session drives all connections; the peer's limit alike)` +
    (opts['rampart-env'].length > 0 ? `, extra: ${opts['rampart-env'].join(' ')}` : '') +
    '; ' +
    `bare app: pg.Pool max ${POOL_MAX} (Rampart: DB_POOL_SIZE ${POOL_SIZE} + overflow ${POOL_MAX - POOL_SIZE}), /bench/db1/1 the same SQL as GET /api/lots/:id (one statement), /bench/db/1 the three queries it made before.`;
  log(`\n${context}\n\n${textTable(header, rows)}\n\n${textTable(healthHeader, healthRows)}\n\n${textTable(memHeader, memRows)}\n\n${textTable(checkHeader, checkRows)}\n`);
  const busyAfter = await cpuBusy(1000);
  if (warning) log(`${warning}\n`);
  log(`benchmark targets: ${opts['json-only'] ? 'not judged (--json-only)' : passed ? 'PASS' : 'FAIL'}`);

  const markdown = [
    `# Rampart benchmark, ${startedAt.toISOString()}`,
    '',
    context,
    '',
    markdownTable(header, rows),
    '',
    markdownTable(healthHeader, healthRows),
    '',
    markdownTable(memHeader, memRows),
    '',
    markdownTable(checkHeader, checkRows),
    '',
    ...(warning ? [warning, ''] : []),
    `**Targets: ${passed ? 'PASS' : 'FAIL'}**`,
  ].join('\n');
  const files = writeResults('bench', {
    kind: 'bench',
    startedAt: startedAt.toISOString(),
    machine: m,
    config: { connections, warmupS: warmup, durationS: duration, healthDurationS: healthDuration, seedLots: Number(opts['seed-lots']), lots, events, seedMs, rampartMain, rampartEnv: shownEnv, exhaustedEnv: { DB_POOL_SIZE: 2, DB_POOL_MAX_OVERFLOW: 0, DB_QUERY_TIMEOUT_MS: 60000, HEALTH_CACHE_MS: 0 } },
    runs,
    rounds: measured,
    roundRatios,
    ratio,
    targets: TARGETS,
    health,
    memory,
    busyBefore,
    busyAfter,
    checks,
    passed,
  }, markdown, startedAt);
  log(`results: ${files.json}\n         ${files.markdown}`);
  return passed || opts['no-gate'] ? 0 : 1;
}

/**
 * Rampart with a main pool of 2 and no overflow: both connections blocked on a table lock,
 * more requests queued behind them, while /health/live and /health/ready are hammered.
 */
async function measureHealth({ rampartEnv, dir, adminPassword, db, rampartMain }) {
  const exhaustedEnv = {
    ...rampartEnv,
    PORT: String(await freePort()),
    SEED_LOTS: '0',
    DB_POOL_SIZE: '2',
    DB_POOL_MAX_OVERFLOW: '0',
    // The blocked queries must hold their connections for the whole measurement.
    DB_QUERY_TIMEOUT_MS: '60000',
    // Measure the checks, not the memo: every probe runs them.
    HEALTH_CACHE_MS: '0',
  };
  log(`\nhealth with the main pool exhausted (DB_POOL_SIZE=2, DB_POOL_MAX_OVERFLOW=0, HEALTH_CACHE_MS=0):`);
  const small = await spawnNode({
    script: rampartMain,
    env: exhaustedEnv,
    logFile: join(dir, 'rampart-exhausted.log'),
    name: 'rampart (pool 2)',
    readyUrl: `http://127.0.0.1:${exhaustedEnv.PORT}/health/live`,
  });
  const smallUrl = `http://127.0.0.1:${exhaustedEnv.PORT}`;
  const smallAuth = { cookie: await adminSession(smallUrl, adminPassword) };
  await expectOk('lots before the lock', `${smallUrl}/api/lots/1`, smallAuth);
  const health = {
    idle: {
      live: await cannon('idle pool      GET /health/live', `${smallUrl}/health/live`, { seconds: healthDuration, warm: 1, conns: 10, pid: small.pid }),
      ready: await cannon('idle pool      GET /health/ready', `${smallUrl}/health/ready`, { seconds: healthDuration, warm: 1, conns: 10, pid: small.pid }),
    },
  };

  const locker = new pg.Client({ connectionString: db.url, application_name: 'rampart-bench:locker' });
  await locker.connect();
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE lots IN ACCESS EXCLUSIVE MODE');
  let holding = true;
  const outcomes = new Map();
  const hammer = async () => {
    const vu = new VirtualUser(smallUrl, { timeoutMs: 120_000 });
    try {
      while (holding) {
        const started = performance.now();
        let key;
        try {
          const res = await vu.request('GET', '/api/lots/1', { headers: { cookie: smallAuth.cookie } });
          key = res.status === 200 ? '200' : `${res.status} ${parseJson('lots', res)?.error?.code ?? ''}`;
        } catch (error) {
          key = `network ${error.code ?? error.message}`;
        }
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        // A fast failure (breaker open) must not turn into a busy loop that steals the CPU.
        if (performance.now() - started < 100) await sleep(100);
      }
    } finally {
      vu.close();
    }
  };
  // Two requests take both connections and wait on the lock; four more queue for the pool.
  const blockers = Array.from({ length: 6 }, () => hammer());
  let blocked = 0;
  for (let i = 0; i < 50 && blocked < 2; i += 1) {
    await sleep(100);
    [{ blocked }] = await queryOnce(
      db.url,
      `SELECT count(*)::int AS blocked FROM pg_stat_activity WHERE datname = $1 AND application_name = 'rampart:main' AND wait_event_type = 'Lock'`,
      [db.name],
    );
  }
  if (blocked < 2) throw new Error(`could not exhaust the pool: ${blocked} main-pool connections wait on the lock`);
  await sleep(300);
  let poolSnapshot = null;
  try {
    const res = await fetch(`${smallUrl}/health`);
    poolSnapshot = (await res.json())?.resilience?.pool ?? null;
  } catch {
    // /health without a resilience block: the pg_stat_activity count above is the evidence
  }
  log(`  main pool: ${blocked} connections blocked on the lock${poolSnapshot ? `; /health says ${JSON.stringify(poolSnapshot)}` : ''}`);
  health.exhausted = {
    live: await cannon('exhausted pool GET /health/live', `${smallUrl}/health/live`, { seconds: healthDuration, warm: 0, conns: 10, pid: small.pid }),
    ready: await cannon('exhausted pool GET /health/ready', `${smallUrl}/health/ready`, { seconds: healthDuration, warm: 0, conns: 10, pid: small.pid }),
  };
  const [{ stillBlocked }] = await queryOnce(
    db.url,
    `SELECT count(*)::int AS "stillBlocked" FROM pg_stat_activity WHERE datname = $1 AND application_name = 'rampart:main' AND wait_event_type = 'Lock'`,
    [db.name],
  );
  holding = false;
  await locker.query('ROLLBACK');
  await locker.end();
  await Promise.all(blockers);
  health.exhausted.blockedAtStart = blocked;
  health.exhausted.blockedAtEnd = stillBlocked;
  health.exhausted.pool = poolSnapshot;
  health.exhausted.lotRequests = Object.fromEntries(outcomes);
  log(`  still blocked at the end: ${stillBlocked}; the queued GET /api/lots/1 requests got ${JSON.stringify(Object.fromEntries(outcomes))}`);
  await small.stop();
  return health;
}

/** `0.40x (rounds 0.38, 0.40, 0.41)`: the median and every round's ratio. */
function ratioText(median, all) {
  return all.length === 1 ? `${median.toFixed(2)}x` : `${median.toFixed(2)}x (rounds ${all.map((x) => x.toFixed(2)).join(', ')})`;
}

/** The middle element by `key` (the lower middle for an even count). */
function medianBy(items, key) {
  const sorted = [...items].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

async function queryOnce(url, sql, params = []) {
  const client = new pg.Client({ connectionString: url, application_name: 'rampart-bench' });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end();
  }
}

runMain(main);
