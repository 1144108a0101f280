#!/usr/bin/env node
// Hostile request bodies against a live app while Kubernetes would be probing it (issue 13,
// "Done when"). Not part of `npm test`; needs `npm run build`, PostgreSQL on 127.0.0.1:5432 and
// Redis on 127.0.0.1:6379 (a scratch database and key prefix, both removed afterwards).
//
// 40 anonymous attackers (--clients), each from its own address (X-Forwarded-For from the
// loopback generator, TRUSTED_PROXIES=loopback, so each has its own per-IP budget), each on its
// own keep-alive connection with a pre-login session and CSRF token, send 95 KB JSON bodies back
// to back, rotating over: ~48k levels of nested arrays, ~14k levels of nested objects, ~9,600
// unknown keys, each once with Content-Length and once chunked (the server cannot refuse by the
// header and must count the bytes). Meanwhile /health/live is probed every 50 ms on its own
// connection. Two phases of --duration seconds each:
//   login:   POST /api/auth/login (the attack of the issue; the route's own small body limit)
//   default: POST /api/auth/logout (a route with the default BODY_LIMIT: every body is read and
//            its structure scanned in full before it is refused)
// Prints per phase: the attack's status counts and latency, the app's CPU, and /health/live
// p50/p99/max. Target: /health/live p99 < 100 ms and no 5xx answer (attack or probe); exit 1
// otherwise (`--no-gate` to always exit 0). Results also go to test/load/results/hostile-*.
//
//   npm run load:hostile
//   node test/load/hostile-bodies.mjs --duration 20 --clients 40 [--phases login,default]
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
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
  onCleanup,
  requireBuild,
  runMain,
  scratchRedisPrefix,
  sleep,
  spawnNode,
  textTable,
  treeCpuSeconds,
  writeResults,
} from './lib/common.mjs';
import { parseJson, VirtualUser } from './lib/http-client.mjs';

const TARGET = { healthP99Ms: 100, serverErrors: 0 };
const PROBE_EVERY_MS = 50;
const BODY_BYTES = 95 * 1024;

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '20' },
    clients: { type: 'string', default: '40' },
    phases: { type: 'string', default: 'login,default' },
    'pg-url': { type: 'string', default: process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    'redis-url': { type: 'string', default: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379' },
    'no-gate': { type: 'boolean', default: false },
    // e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to see where the app spends its time
    'app-node-args': { type: 'string', default: '' },
  },
});
const durationS = Math.min(300, Number(opts.duration));
const clients = Number(opts.clients);
const PHASES = { login: '/api/auth/login', default: '/api/auth/logout' };
const phases = opts.phases.split(',').map((p) => p.trim());
for (const phase of phases) if (!(phase in PHASES)) throw new Error(`unknown phase ${phase}; known: ${Object.keys(PHASES).join(', ')}`);
const log = (line) => process.stdout.write(`${line}\n`);

// ---------------------------------------------------------------------------------------------
// Bodies, built once

function nestedArrays(bytes) {
  const depth = Math.floor(bytes / 2);
  return '['.repeat(depth) + ']'.repeat(depth);
}
function nestedObjects(bytes) {
  const depth = Math.floor((bytes - 1) / 7);
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}
function manyKeys(bytes) {
  const parts = [];
  let size = 2;
  for (let i = 0; size + 12 < bytes; i += 1) {
    const part = `"k${i}":0`;
    parts.push(part);
    size += part.length + 1;
  }
  return `{${parts.join(',')}}`;
}
const BODIES = [
  { name: 'nested arrays', body: Buffer.from(nestedArrays(BODY_BYTES)) },
  { name: 'nested objects', body: Buffer.from(nestedObjects(BODY_BYTES)) },
  { name: 'many keys', body: Buffer.from(manyKeys(BODY_BYTES)) },
];
const VARIANTS = BODIES.flatMap((b) => [
  { ...b, chunked: false },
  { ...b, chunked: true },
]);

/** 198.18.0.0/15 is the benchmarking range (RFC 2544): one address per attacker. */
const addressOf = (i) => `198.18.${Math.floor((i + 1) / 250)}.${((i + 1) % 250) + 1}`;

// ---------------------------------------------------------------------------------------------
// Attackers and the probe

/** One hostile POST on the attacker's own connection; resolves {status, ms} or {status: 0, error}. */
function hostilePost(vu, path, variant) {
  return new Promise((resolve) => {
    const started = performance.now();
    const headers = {
      accept: 'application/json',
      'content-type': 'application/json',
      cookie: vu.cookieHeader(),
      origin: vu.origin,
      'x-csrf-token': vu.csrfToken,
      'x-forwarded-for': vu.forwardedFor,
    };
    if (!variant.chunked) headers['content-length'] = variant.body.length;
    const req = http.request({ agent: vu.agent, hostname: vu.hostname, port: vu.port, method: 'POST', path, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - started }));
      res.on('error', (error) => resolve({ status: 0, error: error.message, ms: performance.now() - started }));
    });
    req.setTimeout(30_000, () => req.destroy(new Error('timeout after 30 s')));
    req.on('error', (error) => resolve({ status: 0, error: error.message, ms: performance.now() - started }));
    if (variant.chunked) {
      // Several writes without a length: the server learns the size only by reading.
      for (let at = 0; at < variant.body.length; at += 16 * 1024) req.write(variant.body.subarray(at, at + 16 * 1024));
      req.end();
    } else req.end(variant.body);
  });
}

async function attacker(vu, path, until, stats, index) {
  let n = index;
  while (performance.now() < until) {
    const variant = VARIANTS[n % VARIANTS.length];
    n += 1;
    const result = await hostilePost(vu, path, variant);
    stats.latency.push(result.ms);
    const key = result.status === 0 ? `network error: ${result.error}` : String(result.status);
    stats.statuses[key] = (stats.statuses[key] ?? 0) + 1;
    const perVariant = (stats.byVariant[`${variant.name}${variant.chunked ? ' (chunked)' : ''}`] ??= {});
    perVariant[key] = (perVariant[key] ?? 0) + 1;
    if (result.status === 0) await sleep(50);
  }
}

async function probe(baseUrl, until) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const url = new URL('/health/live', baseUrl);
  const latency = new Samples();
  const statuses = {};
  let next = performance.now();
  while (performance.now() < until) {
    const result = await new Promise((resolve) => {
      const started = performance.now();
      const req = http.get({ agent, hostname: url.hostname, port: url.port, path: url.pathname }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - started }));
      });
      req.setTimeout(10_000, () => req.destroy(new Error('timeout after 10 s')));
      req.on('error', () => resolve({ status: 0, ms: performance.now() - started }));
    });
    latency.push(result.ms);
    statuses[result.status] = (statuses[result.status] ?? 0) + 1;
    next += PROBE_EVERY_MS;
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait);
    else next = performance.now(); // a slow answer: probe again at once, as kubelet would on its next period
  }
  agent.destroy();
  return { latency: latency.summary(), statuses };
}

// ---------------------------------------------------------------------------------------------

async function runPhase(name, baseUrl, appPid) {
  const path = PHASES[name];
  // Each attacker: own address, own connection, a pre-login session and its CSRF token.
  const vus = Array.from({ length: clients }, (_, i) => new VirtualUser(baseUrl, { forwardedFor: addressOf(i) }));
  await Promise.all(
    vus.map(async (vu) => {
      const response = await vu.request('GET', '/api/auth/csrf');
      if (response.status !== 200) throw new Error(`GET /api/auth/csrf answered ${response.status}: ${response.body.slice(0, 200)}`);
      vu.csrfToken = parseJson('csrf', response).token;
    }),
  );
  const stats = { latency: new Samples(), statuses: {}, byVariant: {} };
  const cpuBefore = treeCpuSeconds(appPid);
  const machineBefore = machineCpuSeconds();
  const generatorBefore = process.cpuUsage();
  const started = performance.now();
  const until = started + durationS * 1000;
  const [health] = await Promise.all([probe(baseUrl, until), ...vus.map((vu, i) => attacker(vu, path, until, stats, i))]);
  const elapsedS = (performance.now() - started) / 1000;
  const cpuAfter = treeCpuSeconds(appPid);
  const machineAfter = machineCpuSeconds();
  const generator = process.cpuUsage(generatorBefore);
  for (const vu of vus) vu.close();
  const attack = stats.latency.summary();
  const serverErrors =
    Object.entries(stats.statuses).filter(([status]) => Number(status) >= 500).reduce((sum, [, n]) => sum + n, 0) +
    Object.entries(health.statuses).filter(([status]) => Number(status) >= 500 || status === '0').reduce((sum, [, n]) => sum + n, 0);
  return {
    phase: name,
    path,
    durationS: elapsedS,
    attack: { requests: attack.count, perSecond: attack.count / elapsedS, mbPerSecond: (attack.count * BODY_BYTES) / elapsedS / 1024 / 1024, latency: attack, statuses: stats.statuses, byVariant: stats.byVariant },
    appCpu: { node: cpuAfter.node - cpuBefore.node, postgres: cpuAfter.postgres - cpuBefore.postgres },
    // Where the machine's CPU went during the phase (seconds, all cores): on a shared 2-core box
    // the probe's latency is mostly waiting for a core, and this says who held them.
    machineCpu: (() => {
      const busy = machineAfter.busy - machineBefore.busy;
      const total = machineAfter.total - machineBefore.total;
      const app = cpuAfter.node - cpuBefore.node + (cpuAfter.postgres - cpuBefore.postgres);
      const gen = (generator.user + generator.system) / 1e6;
      return { total, busy, app, generator: gen, others: Math.max(0, busy - app - gen) };
    })(),
    health,
    serverErrors,
    pass: (health.latency.p99 ?? Infinity) < TARGET.healthP99Ms && serverErrors === TARGET.serverErrors,
  };
}

async function main() {
  requireBuild();
  const dir = mkdtempSync(join(tmpdir(), 'rampart-hostile-'));
  onCleanup(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const { url: databaseUrl } = await createScratchDatabase(opts['pg-url'], 'rampart_hostile');
  const port = await freePort();
  const env = {
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    REDIS_URL: opts['redis-url'],
    REDIS_KEY_PREFIX: await scratchRedisPrefix(opts['redis-url'], 'rhostile'),
    SESSION_SECRET: randomBytes(32).toString('base64url'),
    ADMIN_BOOTSTRAP_PASSWORD: `hostile-${randomBytes(12).toString('base64url')}`,
    SEED_LOTS: '10',
    // The default, written out: each attacker's X-Forwarded-For is its address.
    TRUSTED_PROXIES: 'loopback',
  };
  const busy = await cpuBusy(2000);
  log('starting the built app (scratch database, Redis with a scratch prefix)...');
  const nodeArgs = opts['app-node-args'].split(/\s+/).filter(Boolean);
  const app = await spawnNode({ env, logFile: join(dir, 'app.log'), name: 'rampart', nodeArgs, readyUrl: `http://127.0.0.1:${port}/health/live` });
  const baseUrl = `http://127.0.0.1:${port}`;
  log(`app pid ${app.pid} on ${baseUrl}; ${clients} attackers x ${durationS} s per phase, /health/live every ${PROBE_EVERY_MS} ms`);
  const warning = busyWarning(busy);
  if (warning) log(warning);

  const results = [];
  for (const phase of phases) {
    log(`\nphase "${phase}": POST ${PHASES[phase]} with 95 KB hostile bodies...`);
    results.push(await runPhase(phase, baseUrl, app.pid));
    await sleep(500);
  }
  const exit = app.child.exitCode;
  await app.stop();

  const header = ['phase', 'attack req', 'req/s', 'MB/s in', 'attack p50', 'attack p99', 'statuses', 'app CPU s', 'generator CPU s', 'others CPU s', 'probes', 'live p50', 'live p99', 'live max', 'live non-200', '5xx', 'pass'];
  const rows = results.map((r) => [
    `${r.phase} (${r.path})`,
    r.attack.requests,
    fmt(r.attack.perSecond, 0),
    fmt(r.attack.mbPerSecond, 1),
    `${fmt(r.attack.latency.p50)} ms`,
    `${fmt(r.attack.latency.p99)} ms`,
    Object.entries(r.attack.statuses).map(([s, n]) => `${s}:${n}`).join(' '),
    fmt(r.appCpu.node, 1),
    fmt(r.machineCpu.generator, 1),
    fmt(r.machineCpu.others, 1),
    r.health.latency.count,
    `${fmt(r.health.latency.p50)} ms`,
    `${fmt(r.health.latency.p99)} ms`,
    `${fmt(r.health.latency.max)} ms`,
    Object.entries(r.health.statuses).filter(([s]) => s !== '200').reduce((sum, [, n]) => sum + n, 0),
    r.serverErrors,
    r.pass ? 'yes' : 'NO',
  ]);
  log(`\n${textTable(header, rows)}`);
  for (const r of results) log(`  ${r.phase} by variant: ${Object.entries(r.attack.byVariant).map(([v, s]) => `${v} ${JSON.stringify(s)}`).join('; ')}`);
  const pass = results.every((r) => r.pass) && exit === null;
  log(`\ntarget: /health/live p99 < ${TARGET.healthP99Ms} ms and no 5xx (attack or probe): ${pass ? 'PASS' : 'FAIL'}${exit !== null ? ` (the app exited with ${exit} during the run)` : ''}`);
  const files = writeResults(
    'hostile',
    { machine: await machine(), busyBefore: busy, clients, durationS, bodyBytes: BODY_BYTES, target: TARGET, results, pass },
    [`# Hostile bodies, ${new Date().toISOString()}`, '', warning ?? '', '', markdownTable(header, rows), '', `target: ${pass ? 'PASS' : 'FAIL'}`].join('\n'),
  );
  log(`results: ${files.markdown}`);
  return pass || opts['no-gate'] ? 0 : 1;
}

runMain(main);
