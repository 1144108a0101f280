#!/usr/bin/env node
// Before/after for the JSON route (issue 17): several Rampart builds and the floor app, side by
// side in one run, GET /api/auth/me with autocannon, rounds in alternating order. Prints per
// round and app req/s, p99 and the app's CPU per request (user and system apart, from /proc), and
// each build's ratio to the floor (median of the rounds). A tool for deciding whether a change
// pays, quicker than `npm run bench -- --json-only` when two builds are to be compared.
//   node test/load/ab-json.mjs --build before=/path/to/other/checkout/dist/src/main.js [--build ...]
// The working tree's own build (dist/src/main.js) is always measured, as "this". Another build is
// a checkout with its own `npm run build` (e.g. `git worktree add /tmp/before HEAD~1`, with
// node_modules linked). Needs PostgreSQL and Redis as bench.mjs does; scratch database and key
// prefix, both removed afterwards.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { createScratchDatabase, fmt, freePort, MAIN_JS, onCleanup, requireBuild, runMain, scratchRedisPrefix, spawnNode, textTable, treeCpuSeconds } from './lib/common.mjs';
import { signedInCookie } from './lib/http-client.mjs';

const { values: opts } = parseArgs({
  options: {
    build: { type: 'string', multiple: true, default: [] },
    rounds: { type: 'string', default: '4' },
    duration: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '1' },
    connections: { type: 'string', default: '50' },
    'pg-url': { type: 'string', default: process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    'redis-url': { type: 'string', default: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379' },
    // Extra variables for every Rampart build: --env LOG_LEVEL=warn
    env: { type: 'string', multiple: true, default: [] },
    // ... or for one: --build-env this:NODE_OPTIONS=--max-semi-space-size=32 (the same build may
    // be listed twice under two names, to compare settings)
    'build-env': { type: 'string', multiple: true, default: [] },
    'keep-logs': { type: 'boolean', default: false },
  },
});
const rounds = Number(opts.rounds);
const log = (line) => process.stdout.write(`${line}\n`);

function splitPair(text, flag) {
  const at = text.indexOf('=');
  if (at < 1) throw new Error(`${flag} takes name=value, got ${text}`);
  return [text.slice(0, at), text.slice(at + 1)];
}

/** user and system CPU seconds of the app's Node processes */
function cpuOf(pid) {
  const { nodeUser, nodeSystem } = treeCpuSeconds(pid);
  return { user: nodeUser, system: nodeSystem };
}

async function main() {
  const builds = [['this', MAIN_JS], ...opts.build.map((b) => splitPair(b, '--build'))];
  if (builds.some(([name]) => name === 'floor')) throw new Error('"floor" is the floor app; name the build otherwise');
  requireBuild();
  const dir = mkdtempSync(join(tmpdir(), 'rampart-ab-'));
  onCleanup(`remove ${dir}`, () => (opts['keep-logs'] ? log(`kept ${dir}`) : rmSync(dir, { recursive: true, force: true })));
  const db = await createScratchDatabase(opts['pg-url'], 'rampart_ab');
  const prefix = await scratchRedisPrefix(opts['redis-url'], 'rab');
  const password = `ab-${randomBytes(12).toString('base64url')}`;
  const extraEnv = Object.fromEntries(opts.env.map((kv) => splitPair(kv, '--env')));
  const buildEnv = (name) =>
    Object.fromEntries(
      opts['build-env']
        .filter((x) => x.startsWith(`${name}:`))
        .map((x) => splitPair(x.slice(name.length + 1), '--build-env')),
    );
  const apps = [];
  let user;
  // One after the other: each runs the migrations on the shared scratch database at start.
  for (const [name, script] of builds) {
    const port = await freePort();
    const app = await spawnNode({
      script,
      env: {
        HOST: '127.0.0.1',
        PORT: String(port),
        DATABASE_URL: db.url,
        REDIS_URL: opts['redis-url'],
        REDIS_KEY_PREFIX: `${prefix}${name}:`,
        SESSION_SECRET: randomBytes(32).toString('base64url'),
        ADMIN_BOOTSTRAP_PASSWORD: password,
        RATE_LIMIT_ACCOUNT_PER_MIN: '100000000',
        SEED_LOTS: '100',
        ...extraEnv,
        ...buildEnv(name),
      },
      logFile: join(dir, `${name}.log`),
      readyUrl: `http://127.0.0.1:${port}/health/live`,
      name,
      readyTimeoutMs: 300_000,
    });
    const url = `http://127.0.0.1:${port}`;
    const cookie = await signedInCookie(url, 'admin', password);
    const me = await fetch(`${url}/api/auth/me`, { headers: { cookie } });
    if (me.status !== 200) throw new Error(`${name}: GET /api/auth/me answered ${me.status}`);
    user ??= (await me.json()).user;
    apps.push({ name, url: `${url}/api/auth/me`, headers: { cookie }, pid: app.pid, stop: app.stop });
  }
  const floorPort = await freePort();
  const floor = await spawnNode({
    script: join('test', 'load', 'floor-app.mjs'),
    env: { PORT: String(floorPort), REDIS_URL: opts['redis-url'], KEY_PREFIX: `${prefix}floor:` },
    logFile: join(dir, 'floor.log'),
    name: 'floor',
    readyUrl: `http://127.0.0.1:${floorPort}/api/auth/me`,
  });
  const sid = randomBytes(18).toString('base64url');
  const redis = new Redis(opts['redis-url'], { maxRetriesPerRequest: 1 });
  await redis.set(`${prefix}floor:sess:${sid}`, JSON.stringify({ createdAt: Date.now(), user }), 'PX', 3_600_000);
  await redis.quit();
  apps.push({ name: 'floor', url: `http://127.0.0.1:${floorPort}/api/auth/me`, headers: { cookie: `sid=${sid}` }, pid: floor.pid, stop: floor.stop });

  const results = apps.map(() => []);
  for (let round = 1; round <= rounds; round += 1) {
    const order = round % 2 === 1 ? apps.map((_, i) => i) : apps.map((_, i) => apps.length - 1 - i);
    for (const i of order) {
      const app = apps[i];
      const before = cpuOf(app.pid);
      const run = await autocannon({
        url: app.url,
        headers: app.headers,
        connections: Number(opts.connections),
        duration: Number(opts.duration),
        warmup: { connections: Number(opts.connections), duration: Number(opts.warmup) },
      });
      const after = cpuOf(app.pid);
      const requests = run.requests.total + (run.warmup?.requests?.total ?? 0);
      const bad = run.non2xx + run.errors + run.timeouts;
      const x = {
        rps: run.requests.average,
        p99: run.latency.p99,
        user: ((after.user - before.user) * 1e6) / requests,
        system: ((after.system - before.system) * 1e6) / requests,
        bad,
      };
      results[i].push(x);
      log(`round ${round} ${app.name.padEnd(8)} ${fmt(x.rps, 0).padStart(6)} req/s  p99 ${x.p99} ms  CPU/req user ${fmt(x.user, 0)} + system ${fmt(x.system, 0)} us${bad ? `  (${bad} non-2xx/errors)` : ''}`);
    }
  }
  await Promise.all(apps.map((app) => app.stop()));
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
  const floorIndex = apps.length - 1;
  const rows = apps.map((app, i) => {
    const ratios = results[i].map((x, r) => x.rps / results[floorIndex][r].rps);
    return [
      app.name,
      fmt(median(results[i].map((x) => x.rps)), 0),
      fmt(median(results[i].map((x) => x.user + x.system)), 0),
      fmt(median(results[i].map((x) => x.user)), 0),
      fmt(median(results[i].map((x) => x.system)), 0),
      i === floorIndex ? '-' : `${median(ratios).toFixed(2)}x (${ratios.map((r) => r.toFixed(2)).join(', ')})`,
      String(results[i].reduce((n, x) => n + x.bad, 0)),
    ];
  });
  log('');
  log(textTable(['app', 'req/s', 'CPU us/req', 'user', 'system', 'ratio to floor (rounds)', 'non-2xx/errors'], rows));
  log(`\nmedians of ${rounds} rounds, ${opts.connections} connections, ${opts.warmup} s warm-up + ${opts.duration} s each, order alternating`);
  return 0;
}

runMain(main);
