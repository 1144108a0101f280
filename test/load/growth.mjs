#!/usr/bin/env node
// Cost as data grows (issue 17, item 4): the same routes timed against the same Rampart at two
// table sizes, default 10k and 1M lots (10 events each), and the ratio between them. Every list
// filter (none, status, station, both; each from the first page and from a deep cursor, 90%
// into the table), lot detail (random lot), and both reports. Target: every ratio <= 2x.
//
//   npm run load:growth                          (node test/load/growth.mjs)
//   node test/load/growth.mjs --sizes 10000,1000000 --requests 1000 --warmup 30 --events 10
//   node test/load/growth.mjs --sizes 10000,100000 --no-gate      (a quick look)
//
// Needs PostgreSQL on 127.0.0.1:5432 (TEST_POSTGRES_URL or --pg-url, superuser): the script
// creates one `rampart_growth_<random>` per size, seeds each with `npm run seed`'s CLI, starts
// the built app on each, and drops the databases at the end (also on failure or Ctrl-C).
// Sessions in memory (no Redis). One request at a time on one keep-alive connection per app;
// each route is asked of every size back to back, round after round, so a busy moment of the
// shared machine hits both sides of a ratio: the figures are a route's latency, not a throughput.
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  onCleanup,
  requireBuild,
  ROOT,
  runMain,
  spawnNode,
  textTable,
  writeResults,
} from './lib/common.mjs';
import { parseJson, VirtualUser } from './lib/http-client.mjs';

const MAX_RATIO = 2;
const STATUSES = ['queued', 'running', 'hold', 'done'];

const { values: opts } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,1000000' },
    events: { type: 'string', default: '10' },
    requests: { type: 'string', default: '1000' },
    warmup: { type: 'string', default: '30' },
    limit: { type: 'string', default: '20' },
    'pg-url': { type: 'string', default: process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    'no-gate': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  process.stdout.write(readFileSync(new URL(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).join('\n') + '\n');
  process.exit(0);
}
const sizes = opts.sizes.split(',').map(Number);
const requests = Number(opts.requests);
const warmup = Number(opts.warmup);
const limit = Number(opts.limit);
if (sizes.length < 2 || sizes.some((n) => !Number.isInteger(n) || n < 100) || sizes.some((n, i) => i > 0 && n <= sizes[i - 1])) {
  throw new Error('--sizes takes two or more increasing lot counts (>= 100), e.g. 10000,1000000');
}
for (const [name, v] of Object.entries({ requests, warmup, limit, events: Number(opts.events) })) {
  if (!Number.isInteger(v) || v < 0 || (name === 'requests' && v < 10)) throw new Error(`bad --${name}: ${v}`);
}

const pick = (items) => items[Math.floor(Math.random() * items.length)];
const randomStation = () => 1 + Math.floor(Math.random() * 8); // the seeder's 8 stations
// The API's cursor: base64url of the last id seen (src/domain/lots/lots.service.ts).
const cursorAfter = (id) => Buffer.from(String(id)).toString('base64url');

/**
 * The routes, each a function of the table size giving the next request's path. `sql` (lists
 * only) is the query the route runs, so the script can show which plan PostgreSQL picks.
 */
function routes(lots) {
  const deep = () => `&cursor=${cursorAfter(Math.floor(lots * 0.9))}`;
  const list = (name, filter) => [
    { name: `list ${name}`, path: () => `/api/lots?limit=${limit}${filter()}`, deep: false, filter },
    { name: `list ${name}, deep cursor`, path: () => `/api/lots?limit=${limit}${filter()}${deep()}`, deep: true, filter },
  ];
  return [
    ...list('(no filter)', () => ''),
    ...list('status', () => `&status=${pick(STATUSES)}`),
    ...list('station', () => `&station=${randomStation()}`),
    ...list('status+station', () => `&status=${pick(STATUSES)}&station=${randomStation()}`),
    { name: 'lot detail', path: () => `/api/lots/${1 + Math.floor(Math.random() * lots)}` },
    { name: 'report wip-summary', path: () => '/api/reports/wip-summary' },
    { name: 'report equipment-status', path: () => '/api/reports/equipment-status' },
  ];
}

/** Runs the seed CLI (`npm run seed`'s, already built) with its progress lines shown. */
function seed(dbUrl, lots) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'database', 'seed', 'seed.cli.js'), '--lots', String(lots), '--events', opts.events], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATABASE_URL: dbUrl, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const stop = onCleanup(`stop seed (pid ${child.pid})`, () => child.kill('SIGTERM'));
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const { msg, level: _level, time: _time, pid: _pid, hostname: _host, ...rest } = JSON.parse(line);
          process.stdout.write(`  seed: ${msg} ${JSON.stringify(rest)}\n`);
        } catch {
          process.stdout.write(`  seed: ${line}\n`);
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      stop();
      if (code === 0) resolve((Date.now() - started) / 1000);
      else reject(new Error(`seed --lots ${lots} exited with ${code}`));
    });
  });
}

async function createUser(dbUrl, username, password) {
  const { PasswordHasher } = await import(join(ROOT, 'dist', 'src', 'auth', 'password-hasher.js'));
  const hash = await new PasswordHasher().hash(password);
  const client = new pg.Client({ connectionString: dbUrl, application_name: 'rampart-growth' });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO users (username, password_hash, role) VALUES ($1, $2, 'viewer')
       ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash`,
      [username, hash],
    );
  } finally {
    await client.end();
  }
}

/** The plan PostgreSQL picks for a list route's query (EXPLAIN ANALYZE, one execution): its scan node and time. */
async function listPlans(dbUrl, lots) {
  const client = new pg.Client({ connectionString: dbUrl, application_name: 'rampart-growth' });
  await client.connect();
  const out = new Map();
  try {
    for (const route of routes(lots).filter((r) => r.filter)) {
      const params = new URLSearchParams(route.filter().slice(1));
      const after = route.deep ? Math.floor(lots * 0.9) : 0;
      // The text of LotsService.list, run the way the app runs it (unnamed statement, custom plan).
      const { rows } = await client.query(
        `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT id, code, product, station_id, status, priority, updated_at FROM lots
         WHERE id > $1 AND ($2::text IS NULL OR status = $2) AND ($3::int IS NULL OR station_id = $3)
         ORDER BY id LIMIT $4`,
        [after, params.get('status'), params.has('station') ? Number(params.get('station')) : null, limit + 1],
      );
      const [{ Plan: plan, 'Execution Time': ms }] = rows[0]['QUERY PLAN'];
      const nodes = [];
      const walk = (n) => {
        nodes.push(n['Node Type'] === 'Sort' ? 'Sort' : n['Index Name'] ? `${n['Node Type']} ${n['Index Name']}` : n['Node Type']);
        for (const c of n.Plans ?? []) walk(c);
      };
      walk(plan);
      out.set(route.name, { plan: nodes.filter((n) => n !== 'Limit').join(' > '), ms, buffers: plan['Shared Hit Blocks'] + plan['Shared Read Blocks'] });
    }
    // Not a route: the report cache updater runs this (ReportsService.computeWipSummary's text)
    // every REPORT_CACHE_REFRESH_MS; the route reads its result.
    const wip = await client.query(`EXPLAIN (ANALYZE, FORMAT JSON)
        SELECT s.id AS station_id, s.code, s.name, c.status, coalesce(c.count, 0)::int AS count
        FROM stations s
        LEFT JOIN (SELECT station_id, status, count(*)::int AS count FROM lots GROUP BY station_id, status) c ON c.station_id = s.id
        ORDER BY s.code`);
    out.set('wip refresh query', { ms: wip.rows[0]['QUERY PLAN'][0]['Execution Time'] });
  } finally {
    await client.end();
  }
  return out;
}

/** One size: its own database, seeded to `lots`, and the app started on it, signed in. */
async function prepareSize(lots) {
  const db = await createScratchDatabase(opts['pg-url'], 'rampart_growth');
  process.stdout.write(`\n== ${lots} lots in ${db.name}: seeding (npm run seed -- --lots ${lots} --events ${opts.events})\n`);
  const seedS = await seed(db.url, lots);
  const dir = mkdtempSync(join(tmpdir(), 'rampart-growth-'));
  onCleanup(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const env = {
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: db.url,
    DATA_DIR: join(dir, 'data'),
    SEED_LOTS: '0',
    ADMIN_BOOTSTRAP_PASSWORD: `admin-${randomBytes(12).toString('base64url')}`,
    // One client, thousands of requests a minute; the limiter still runs on each of them.
    RATE_LIMIT_ACCOUNT_PER_MIN: '100000000',
    LOG_LEVEL: 'info',
  };
  const app = await spawnNode({ env, logFile: join(dir, 'app.log'), name: `rampart (${lots} lots)`, readyUrl: `http://127.0.0.1:${port}/health/live` });
  const username = `growth-${randomBytes(3).toString('hex')}`;
  const password = `growth-${randomBytes(9).toString('base64url')}`;
  await createUser(db.url, username, password);
  const vu = new VirtualUser(`http://127.0.0.1:${port}`, { forwardedFor: '198.18.0.10' });
  onCleanup(`close client of ${lots}`, () => vu.close());
  vu.csrfToken = parseJson('csrf', await vu.request('GET', '/api/auth/csrf')).token;
  const login = await vu.request('POST', '/api/auth/login', { json: { username, password } });
  if (login.status !== 200) throw new Error(`login answered ${login.status}: ${login.body.slice(0, 200)}`);
  const list = routes(lots);
  return { lots, db, app, vu, seedS, list, samples: new Map(list.map((r) => [r.name, new Samples(requests)])) };
}

async function main() {
  requireBuild();
  const startedAt = new Date();
  // Every size has its own database and app, all running at once: each route is asked of the
  // sizes back to back (alternating which goes first), so a busy moment of the shared machine
  // lands on both sides of a ratio instead of on one size's whole measurement.
  const targets = [];
  for (const lots of sizes) targets.push(await prepareSize(lots));
  const busy = await cpuBusy(2000, targets.map((t) => t.app.pid));
  const warning = busyWarning(busy);
  if (warning) process.stdout.write(`${warning}\n`);
  process.stdout.write(`\ntiming ${targets[0].list.length} routes x ${sizes.length} sizes, ${warmup} warm-up + ${requests} requests each, one at a time...\n`);
  for (let round = 0; round < warmup + requests; round += 1) {
    for (let r = 0; r < targets[0].list.length; r += 1) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        const route = t.list[r];
        const path = route.path();
        const res = await t.vu.request('GET', path);
        if (res.status !== 200) throw new Error(`${route.name} @${t.lots}: GET ${path} answered ${res.status}: ${res.body.slice(0, 300)}`);
        if (round >= warmup) t.samples.get(route.name).push(res.ms);
      }
    }
    if ((round + 1) % 50 === 0) process.stdout.write(`  round ${round + 1} of ${warmup + requests}\n`);
  }
  const measured = [];
  for (const t of targets) {
    await t.app.stop();
    const plans = await listPlans(t.db.url, t.lots);
    measured.push({ lots: t.lots, seedS: t.seedS, results: t.list.map((r) => ({ route: r.name, ...t.samples.get(r.name).summary(), ...plans.get(r.name) })), wip: plans.get('wip refresh query') });
  }

  const [base] = measured;
  const header = ['route'];
  for (const m of measured) header.push(`${m.lots} p50 ms`, `${m.lots} p99 ms`);
  for (const m of measured.slice(1)) header.push(`x p50 @${m.lots}`, `x p99 @${m.lots}`);
  header.push('result');
  const checks = [];
  const rows = base.results.map((r, i) => {
    const row = [r.route];
    for (const m of measured) row.push(fmt(m.results[i].p50, 2), fmt(m.results[i].p99, 2));
    let pass = true;
    for (const m of measured.slice(1)) {
      const x50 = m.results[i].p50 / r.p50;
      const x99 = m.results[i].p99 / r.p99;
      row.push(fmt(x50, 2), fmt(x99, 2));
      pass &&= x50 <= MAX_RATIO && x99 <= MAX_RATIO;
      checks.push({ route: r.route, lots: m.lots, x50, x99, pass: x50 <= MAX_RATIO && x99 <= MAX_RATIO });
    }
    row.push(pass ? 'PASS' : 'FAIL');
    return row;
  });
  const planHeader = ['list query (EXPLAIN ANALYZE)', ...measured.flatMap((m) => [`plan @${m.lots}`, `ms @${m.lots}`])];
  const planRows = base.results
    .filter((r) => r.plan)
    .map((r) => [r.route, ...measured.flatMap((m) => { const x = m.results.find((y) => y.route === r.route); return [x.plan, fmt(x.ms, 3)]; })]);
  planRows.push(['wip refresh query (updater, not per request)', ...measured.flatMap((m) => ['', fmt(m.wip.ms, 1)])]);
  const passed = checks.every((c) => c.pass);
  const seedLine = `seeding: ${measured.map((m) => `to ${m.lots} lots ${m.seedS.toFixed(0)} s`).join(', ')} (${opts.events} events per lot)`;
  const warnings = warning ? [warning] : [];
  const verdict = `growth gate (every ratio <= ${MAX_RATIO}x): ${passed ? 'PASS' : 'FAIL'}`;
  process.stdout.write(
    `\n${seedLine}\nlatency per route, one request at a time, ${requests} requests each (write to last byte):\n\n${textTable(header, rows)}\n\n` +
      `${textTable(planHeader, planRows)}\n\n${warnings.join('\n')}${warnings.length ? '\n' : ''}${verdict}\n`,
  );
  const markdown = [
    `# Rampart data-growth run, ${startedAt.toISOString()}`,
    '',
    seedLine,
    '',
    markdownTable(header, rows),
    '',
    markdownTable(planHeader, planRows),
    '',
    ...warnings,
    `**${verdict}**`,
  ].join('\n');
  const files = writeResults('growth', { kind: 'growth', startedAt: startedAt.toISOString(), machine: await machine(), config: { sizes, events: Number(opts.events), requests, warmup, limit }, maxRatio: MAX_RATIO, measured, checks, passed }, markdown, startedAt);
  process.stdout.write(`results: ${files.json}\n         ${files.markdown}\n`);
  return passed || opts['no-gate'] ? 0 : 1;
}

runMain(main);
