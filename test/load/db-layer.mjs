#!/usr/bin/env node
// CPU per GET /api/lots/:id-like call through each layer of Rampart's database path, without
// HTTP: a raw pg.Pool checkout and query, PgPoolManager, + its metrics observer (prom-client),
// + the breaker (DatabaseService.run). 50 concurrent callers, 3 rounds of 3 s per layer, the
// process's own CPU time per call. Shows what the layers cost beyond the database itself.
//   node test/load/db-layer.mjs [--sql one|three]
// Needs the build (dist/) and PostgreSQL on 127.0.0.1:5432 (a scratch database, seeded and dropped).
// Wrap in `flock /work/wt/notes/bench.lock` on a shared machine.
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import client from 'prom-client';
import { createScratchDatabase, requireBuild, ROOT, runMain } from './lib/common.mjs';

const { values: opts } = parseArgs({
  options: {
    sql: { type: 'string', default: 'one' },
    'pg-url': { type: 'string', default: process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
});

async function main() {
  requireBuild();
  const db = await createScratchDatabase(opts['pg-url'], 'rampart_dblayer');
  const url = db.url;
  const seeded = spawnSync(process.execPath, [join(ROOT, 'dist', 'src', 'database', 'seed', 'seed.cli.js')], { env: { ...process.env, DATABASE_URL: url, SEED_LOTS: '2000' }, encoding: 'utf8' });
  if (seeded.status !== 0) throw new Error(`seeding failed: ${seeded.stderr}`);
  const { PgPoolManager } = await import(join(ROOT, 'dist/src/database/pool-manager.js'));
  const { BreakerService } = await import(join(ROOT, 'dist/src/resilience/breaker.service.js'));
  const { DatabaseService } = await import(join(ROOT, 'dist/src/database/database.service.js'));
  const config = { url, poolSize: 10, maxOverflow: 5, poolTimeoutMs: 5000, idleTimeoutMs: 30000, queryTimeoutMs: 5000, connectTimeoutMs: 5000, keepAliveIdleMs: 30000, slowQueryMs: 500, connectionMaxLifetimeS: 0 };
  const silent = { warn() {}, debug() {} };
  const THREE = [
    ['/* lots.get */ SELECT id, code, product, station_id, status, priority, updated_at FROM lots WHERE id = $1'],
    ['/* lots.events */ SELECT id, at, kind, station_id, payload FROM lot_events WHERE lot_id = $1 ORDER BY at DESC LIMIT 20'],
    ['/* lots.notes */ SELECT id, lot_id, author_id, text, created_at FROM lot_notes WHERE lot_id = $1 ORDER BY created_at DESC, id DESC LIMIT 50'],
  ];
  const ONE = [[`/* lots.get */ SELECT l.id, l.code, l.product, l.station_id, l.status, l.priority, l.updated_at,
     (SELECT coalesce(json_agg(e ORDER BY e.at DESC), '[]') FROM (SELECT id, at, kind, station_id, payload FROM lot_events WHERE lot_id = l.id ORDER BY at DESC LIMIT 20) e) AS events,
     (SELECT coalesce(json_agg(n ORDER BY n.created_at DESC, n.id DESC), '[]') FROM (SELECT id, lot_id, author_id, text, created_at FROM lot_notes WHERE lot_id = l.id ORDER BY created_at DESC, id DESC LIMIT 50) n) AS notes
   FROM lots l WHERE l.id = $1`]];
  const Q = opts.sql === 'three' ? THREE : ONE;
  const work = async (sql) => { for (const [q] of Q) await sql.query(q, [1]); };
  const raw = new pg.Pool({ connectionString: url, max: 15 });
  const rawRun = async () => { const c = await raw.connect(); try { for (const [q] of Q) (await c.query(q, [1])).rows; } finally { c.release(); } };
  const pm = new PgPoolManager(url, config, silent);
  const pmObserved = new PgPoolManager(url, config, silent);
  const h1 = new client.Histogram({ name: 'w', help: 'w', buckets: [0.001, 0.01, 0.1] });
  const h2 = new client.Histogram({ name: 'q', help: 'q', labelNames: ['statement'], buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
  pmObserved.observe({ connectionWait: (s) => h1.observe(s), query: (st, s) => h2.observe({ statement: st }, s) });
  const breaker = new BreakerService({ name: 'b', failureRate: 0.5, windowMs: 10000, minVolume: 20, openMs: 5000, openMaxMs: 60000, halfOpenProbes: 2 });
  const service = new DatabaseService(pmObserved, breaker);
  const variants = {
    raw: rawRun,
    poolManager: () => pm.withConnection(work),
    'poolManager+metrics': () => pmObserved.withConnection(work),
    'full (breaker+pool+metrics)': () => service.run(work),
  };
  async function measure(fn, ms) {
    let n = 0; const end = Date.now() + ms;
    const c0 = process.cpuUsage();
    await Promise.all(Array.from({ length: 50 }, async () => { while (Date.now() < end) { await fn(); n++; } }));
    const c = process.cpuUsage(c0);
    return { n, us: (c.user + c.system) / n };
  }
  for (const f of Object.values(variants)) await measure(f, 1000);
  const res = {};
  for (let round = 0; round < 3; round++) for (const [k, f] of Object.entries(variants)) (res[k] ??= []).push((await measure(f, 3000)).us);
  console.log(`${opts.sql === 'three' ? 'three queries' : 'one statement'} per call, 50 callers, 3 rounds of 3 s:`);
  for (const [k, v] of Object.entries(res)) console.log(k.padEnd(30), v.map((x) => x.toFixed(0)).join(' / '), 'us CPU/call (median', [...v].sort((a, b) => a - b)[1].toFixed(0) + ')');
  breaker.shutdown(); await Promise.all([raw.end(), pm.close(), pmObserved.close()]);
  return 0;
}

runMain(main);
