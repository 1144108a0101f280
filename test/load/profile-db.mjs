#!/usr/bin/env node
// Where the database route's CPU goes: Rampart's GET /api/lots/1 and the bare app's
// GET /bench/db1/1 (the same SQL; --bare-path /bench/db/1 for the three queries of before), each under autocannon load with `node --cpu-prof`,
// then a per-function self-time summary of both profiles and a per-area one (pg driver,
// Nest/Express, Rampart's own code by folder, GC). Profiles include start-up; only the load
// phase matters, so it runs long enough to dominate (--duration).
//   node test/load/profile-db.mjs [--duration 10] [--top 30] [--main dist/src/main.js] [--keep]
// Needs PostgreSQL and Redis like bench.mjs (scratch database and key prefix, removed after).
// Wrap in `flock /work/wt/notes/bench.lock` on a shared machine: it is a load run.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { createScratchDatabase, freePort, MAIN_JS, onCleanup, requireBuild, ROOT, runMain, scratchRedisPrefix, sleep, spawnNode, treeCpuSeconds } from './lib/common.mjs';
import { parseJson, VirtualUser } from './lib/http-client.mjs';

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    top: { type: 'string', default: '30' },
    main: { type: 'string', default: MAIN_JS },
    'seed-lots': { type: 'string', default: '2000' },
    // The bare app's route: db1 runs Rampart's SQL, db the three queries of before issue 17.
    'bare-path': { type: 'string', default: '/bench/db1/1' },
    keep: { type: 'boolean', default: false },
    // Inclusive (synchronous) time of the outermost frame whose file matches: what each entry
    // point of the database layer costs with everything it calls (prom-client, opossum, pg).
    focus: { type: 'string', default: 'dist/src/(database|resilience)/' },
    // Summarise existing profiles instead of measuring: --summarise rampart.cpuprofile,bare.cpuprofile
    summarise: { type: 'string', default: '' },
    'pg-url': { type: 'string', default: process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    'redis-url': { type: 'string', default: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379' },
  },
});
const log = (line) => process.stdout.write(`${line}\n`);

async function load(url, headers, pid) {
  const before = treeCpuSeconds(pid).node;
  const r = await autocannon({ url, connections: 50, duration: Number(opts.duration), headers, warmup: { connections: 50, duration: 2 } });
  const all = r.requests.total + (r.warmup?.requests?.total ?? 0);
  const cpuUs = ((treeCpuSeconds(pid).node - before) * 1e6) / all;
  log(`  ${url}: ${r.requests.average.toFixed(0)} req/s, ${cpuUs.toFixed(0)} us CPU/req, non-2xx ${r.non2xx}, errors ${r.errors}`);
  return { rps: r.requests.average, cpuUs, requests: all };
}

/** Self time (ms) per function and per area from a .cpuprofile. */
export function summarise(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i += 1) {
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
  }
  const fns = new Map();
  const areas = new Map();
  const focused = new Map();
  const focus = new RegExp(opts.focus);
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const frameKey = (node) => {
    const { functionName, url, lineNumber } = node.callFrame;
    return `${functionName || '(anonymous)'} ${url ? `${shortUrl(url)}:${lineNumber + 1}` : ''}`.trim();
  };
  for (let i = 0; i < profile.samples.length; i += 1) {
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    let outer = null;
    for (let id = profile.samples[i]; id !== undefined; id = parent.get(id)) {
      if (focus.test(byId.get(id).callFrame.url)) outer = id;
    }
    if (outer !== null) focused.set(frameKey(byId.get(outer)), (focused.get(frameKey(byId.get(outer))) ?? 0) + dt);
  }
  let total = 0;
  for (const [id, ms] of self) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'} ${where}`.trim();
    fns.set(key, (fns.get(key) ?? 0) + ms);
    const area = areaOf(functionName, url);
    areas.set(area, (areas.get(area) ?? 0) + ms);
    if (area !== '(idle)') total += ms;
  }
  const sorted = (m) => [...m].sort((a, b) => b[1] - a[1]);
  return { total, fns: sorted(fns), areas: sorted(areas), focused: sorted(focused) };
}

function shortUrl(url) {
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) return path.slice(nm + 'node_modules/'.length);
  return path.startsWith('/') ? relative(ROOT, path) : path;
}

function areaOf(fn, url) {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const path = url.replace(/^file:\/\//, '');
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (nm) return nm[1];
  if (path.startsWith('node:')) return 'node core';
  const src = /dist\/src\/([^/]+(?:\/[^/.]+)?)/.exec(path);
  if (src) return `rampart ${src[1].replace(/\/[^/]*\.js$/, '')}`;
  return path.includes('/test/load/') ? 'bench app' : path;
}

function printSummary(title, s, top) {
  log(`\n${title}: ${s.total.toFixed(0)} ms busy (self time, idle excluded)`);
  log('  by area:');
  for (const [area, ms] of s.areas.filter(([a]) => a !== '(idle)').slice(0, 18)) log(`    ${((ms / s.total) * 100).toFixed(1).padStart(5)}%  ${ms.toFixed(0).padStart(6)} ms  ${area}`);
  log(`  inclusive, outermost frame matching /${opts.focus}/:`);
  for (const [fn, ms] of s.focused.slice(0, 15)) log(`    ${((ms / s.total) * 100).toFixed(1).padStart(5)}%  ${ms.toFixed(0).padStart(6)} ms  ${fn}`);
  log('  top functions:');
  for (const [fn, ms] of s.fns.filter(([f]) => !f.startsWith('(idle)')).slice(0, top)) log(`    ${((ms / s.total) * 100).toFixed(1).padStart(5)}%  ${ms.toFixed(0).padStart(6)} ms  ${fn}`);
}

/** Per function, Rampart's self time per request minus the bare app's: where the extra goes. */
function printDifference(rampart, rampartRequests, bare, bareRequests, top) {
  const perReq = (fns, n) => new Map(fns.map(([fn, ms]) => [fn, (ms * 1000) / n]));
  const a = perReq(rampart.fns, rampartRequests);
  const b = perReq(bare.fns, bareRequests);
  const diff = [...new Set([...a.keys(), ...b.keys()])]
    .filter((fn) => !fn.startsWith('(idle)'))
    .map((fn) => [fn, (a.get(fn) ?? 0) - (b.get(fn) ?? 0), a.get(fn) ?? 0, b.get(fn) ?? 0])
    .sort((x, y) => y[1] - x[1]);
  const total = (m) => [...m].filter(([fn]) => !fn.startsWith('(idle)')).reduce((sum, [, us]) => sum + us, 0);
  log(`\nper request (self time incl. start-up, us): Rampart ${total(a).toFixed(0)}, bare ${total(b).toFixed(0)}; largest differences:`);
  for (const [fn, d, x, y] of diff.slice(0, top)) log(`  ${d.toFixed(1).padStart(6)}  (${x.toFixed(1)} vs ${y.toFixed(1)})  ${fn}`);
}

/** Per area (package, Rampart folder, GC, native), self time per request of both apps and the difference. */
function printAreaDifference(rampart, rampartRequests, bare, bareRequests) {
  const perReq = (areas, n) => new Map(areas.filter(([area]) => area !== '(idle)').map(([area, ms]) => [area, (ms * 1000) / n]));
  const a = perReq(rampart.areas, rampartRequests);
  const b = perReq(bare.areas, bareRequests);
  const rows = [...new Set([...a.keys(), ...b.keys()])]
    .map((area) => [area, a.get(area) ?? 0, b.get(area) ?? 0])
    .sort((x, y) => y[1] - y[2] - (x[1] - x[2]));
  log('\nper area, self time per request (incl. start-up, us):');
  log(`  ${'Rampart'.padStart(8)} ${'bare'.padStart(8)} ${'diff'.padStart(8)}  area`);
  for (const [area, x, y] of rows.filter(([, x, y]) => Math.max(x, y) >= 1)) {
    log(`  ${x.toFixed(1).padStart(8)} ${y.toFixed(1).padStart(8)} ${(x - y).toFixed(1).padStart(8)}  ${area}`);
  }
}

async function main() {
  if (opts.summarise) {
    for (const file of opts.summarise.split(',')) printSummary(file, summarise(file), Number(opts.top));
    return 0;
  }
  requireBuild();
  const dir = mkdtempSync(join(tmpdir(), 'rampart-profile-'));
  onCleanup(`remove ${dir}`, () => (opts.keep ? log(`kept ${dir}`) : rmSync(dir, { recursive: true, force: true })));
  const db = await createScratchDatabase(opts['pg-url'], 'rampart_prof');
  const prefix = await scratchRedisPrefix(opts['redis-url'], 'rprof');
  const password = `prof-${randomBytes(12).toString('base64url')}`;
  const port = await freePort();
  const rampart = await spawnNode({
    script: opts.main,
    env: {
      HOST: '127.0.0.1', PORT: String(port), DATABASE_URL: db.url, REDIS_URL: opts['redis-url'], REDIS_KEY_PREFIX: prefix,
      SESSION_SECRET: randomBytes(32).toString('base64url'), ADMIN_BOOTSTRAP_PASSWORD: password, SEED_LOTS: opts['seed-lots'], RATE_LIMIT_ACCOUNT_PER_MIN: '100000000',
    },
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'rampart')}`],
    logFile: join(dir, 'rampart.log'),
    readyUrl: `http://127.0.0.1:${port}/health/live`,
    name: 'rampart',
    readyTimeoutMs: 180_000,
  });
  const barePort = await freePort();
  const bare = await spawnNode({
    script: join('test', 'load', 'bare-app.mjs'),
    env: { PORT: String(barePort), DATABASE_URL: db.url, POOL_MAX: '15' },
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'bare')}`],
    logFile: join(dir, 'bare.log'),
    name: 'bare app',
    readyUrl: `http://127.0.0.1:${barePort}/bench/json`,
  });
  const vu = new VirtualUser(`http://127.0.0.1:${port}`);
  vu.csrfToken = parseJson('csrf', await vu.request('GET', '/api/auth/csrf')).token;
  const login = await vu.request('POST', '/api/auth/login', { json: { username: 'admin', password } });
  if (login.status !== 200) throw new Error(`login answered ${login.status}`);
  vu.close();
  await sleep(1000);
  log('load:');
  const r = await load(`http://127.0.0.1:${port}/api/lots/1`, { cookie: vu.cookieHeader() }, rampart.pid);
  const b = await load(`http://127.0.0.1:${barePort}${opts['bare-path']}`, {}, bare.pid);
  await rampart.stop();
  await bare.stop();
  const top = Number(opts.top);
  const profileOf = (sub) => join(dir, sub, readdirSync(join(dir, sub)).find((f) => f.endsWith('.cpuprofile')));
  printSummary(`Rampart GET /api/lots/1 (${r.cpuUs.toFixed(0)} us CPU/req)`, summarise(profileOf('rampart')), top);
  printSummary(`bare GET ${opts['bare-path']} (${b.cpuUs.toFixed(0)} us CPU/req)`, summarise(profileOf('bare')), top);
  printDifference(summarise(profileOf('rampart')), r.requests, summarise(profileOf('bare')), b.requests, top);
  printAreaDifference(summarise(profileOf('rampart')), r.requests, summarise(profileOf('bare')), b.requests);
  if (opts.keep) log(`profiles: ${profileOf('rampart')} ${profileOf('bare')}`);
  return 0;
}

runMain(main);
