#!/usr/bin/env node
// What a named (prepared) statement saves on the lot detail: the same statement sent unnamed
// (parsed and planned by PostgreSQL on every call) and named (parsed and planned once per
// connection), 50 concurrent callers on a plain pg.Pool of 15, rounds alternating; per call the
// calls per second, this process's CPU and the CPU of the pool's PostgreSQL backends (their
// /proc/<pid>/stat, found in pg_stat_activity: other databases' work on the shared server is
// not counted). Needs the build (dist/, for the seeder) and PostgreSQL on 127.0.0.1:5432.
//   node test/load/pg-prepared.mjs [--seconds 3] [--rounds 3] [--seed-lots 2000]
// Wrap in `flock /work/wt/notes/bench.lock` on a shared machine.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createScratchDatabase, requireBuild, ROOT, runMain } from './lib/common.mjs';
import { LOT_DETAIL_SQL } from './lib/lot-detail-sql.mjs';

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    'seed-lots': { type: 'string', default: '2000' },
    'pg-url': { type: 'string', default: process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
});

const TICKS = 100; // USER_HZ
const cpuSeconds = (pid) => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return 0; // not visible (PostgreSQL on another host or in a container): shown as 0
  }
};

async function main() {
  requireBuild();
  const db = await createScratchDatabase(opts['pg-url'], 'rampart_prepared');
  const seeded = spawnSync(process.execPath, [join(ROOT, 'dist', 'src', 'database', 'seed', 'seed.cli.js')], { env: { ...process.env, DATABASE_URL: db.url, SEED_LOTS: opts['seed-lots'] }, encoding: 'utf8' });
  if (seeded.status !== 0) throw new Error(`seeding failed: ${seeded.stderr}`);
  const pool = new pg.Pool({ connectionString: db.url, max: 15, application_name: 'bench:prepared' });
  // The scratch database is dropped WITH (FORCE) on the way out; a connection still closing then gets 57P01.
  pool.on('error', () => undefined);
  try {
    // Open all 15 connections first, so every backend is there to be measured.
    const clients = await Promise.all(Array.from({ length: 15 }, () => pool.connect()));
    for (const c of clients) c.release();
    const backends = (await pool.query(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'bench:prepared'`, [db.name])).rows.map((r) => r.pid);
    const backendCpu = () => backends.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
    const variants = { unnamed: () => LOT_DETAIL_SQL, named: () => ({ name: 'lots.get', text: LOT_DETAIL_SQL }) };
    const seconds = Number(opts.seconds);
    const results = { unnamed: [], named: [] };
    for (let round = 0; round < Number(opts.rounds); round += 1) {
      const order = round % 2 === 0 ? ['unnamed', 'named'] : ['named', 'unnamed'];
      for (const name of order) {
        const config = variants[name]();
        let calls = 0;
        const end = Date.now() + seconds * 1000;
        const app0 = process.cpuUsage();
        const pg0 = backendCpu();
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: 50 }, async () => {
            while (Date.now() < end) {
              await pool.query(typeof config === 'string' ? config : { ...config, values: [1] }, typeof config === 'string' ? [1] : undefined);
              calls += 1;
            }
          }),
        );
        const elapsed = (performance.now() - t0) / 1000;
        const app = process.cpuUsage(app0);
        const r = { perSecond: calls / elapsed, appUs: (app.user + app.system) / calls, postgresUs: ((backendCpu() - pg0) * 1e6) / calls };
        results[name].push(r);
        process.stdout.write(`round ${round + 1} ${name.padEnd(8)} ${r.perSecond.toFixed(0).padStart(6)} calls/s  app ${r.appUs.toFixed(0).padStart(4)} us/call  postgres ${r.postgresUs.toFixed(0).padStart(4)} us/call\n`);
      }
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    process.stdout.write('\nmedian of rounds:\n');
    for (const [name, rs] of Object.entries(results)) {
      process.stdout.write(`  ${name.padEnd(8)} ${median(rs.map((r) => r.perSecond)).toFixed(0).padStart(6)} calls/s  app ${median(rs.map((r) => r.appUs)).toFixed(0).padStart(4)} us/call  postgres ${median(rs.map((r) => r.postgresUs)).toFixed(0).padStart(4)} us/call\n`);
    }
  } finally {
    await pool.end();
  }
  return 0;
}

runMain(main);
