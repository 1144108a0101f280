import pino from 'pino';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTITIES } from '../../src/database/entities/index.js';
import { runMigrations } from '../../src/database/migrate.js';
import { LotsStationStatusKeysetIndex1764600000000 } from '../../src/database/migrations/1764600000000-lots-station-status-keyset-index.js';
import { seedDemoData } from '../../src/database/seed/seeder.js';
import type { ConfigService } from '@nestjs/config';
import type { RampartConfig } from '../../src/config/rampart-config.js';
import type { DatabaseService } from '../../src/database/database.service.js';
import { ReportsService } from '../../src/domain/reports/reports.service.js';
import type { WipSummaryStore } from '../../src/domain/reports/wip-summary.store.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

// Issue 17: the combined status+station list must page through an index in keyset order, and
// the seeder must leave the planner statistics to pick it, at any table size.
const LIST_SQL = `SELECT id, code, product, station_id, status, priority, updated_at FROM lots
  WHERE id > $1 AND ($2::text IS NULL OR status = $2) AND ($3::int IS NULL OR station_id = $3)
  ORDER BY id LIMIT $4`;

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}
const nodesOf = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodesOf)];

describe('lots at scale: the keyset index for status+station and the seeder', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  const seed = (lots: number, events: number) => dataSource.transaction((m) => seedDemoData(m, lots, events));

  beforeAll(async () => {
    db = await createTestDatabase('rampart_growth_test');
    await runMigrations({ url: db.url, connectTimeoutMs: 5000, keepAliveIdleMs: 10_000, logger: pino({ level: 'silent' }) });
    dataSource = new DataSource({ type: 'postgres', url: db.url, entities: ENTITIES, extra: { max: 1 } });
    await dataSource.initialize();
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it('replaces the (station_id, status) index with a valid (station_id, status, id) one', async () => {
    const rows = await db.query<{ indexname: string; indexdef: string; valid: boolean }>(
      `SELECT i.indexname, i.indexdef, x.indisvalid AS valid FROM pg_indexes i
       JOIN pg_class c ON c.relname = i.indexname JOIN pg_index x ON x.indexrelid = c.oid
       WHERE i.tablename = 'lots' AND i.indexname LIKE 'lots_station_status%'`,
    );
    expect(rows).toEqual([
      { indexname: 'lots_station_status_id_idx', indexdef: expect.stringMatching(/\(station_id, status, id\)$/), valid: true },
    ]);
  });

  it('keeps a valid index built ahead by hand, and rebuilds one a failed concurrent build left INVALID', async () => {
    const state = async () =>
      (await db.query<{ oid: number; valid: boolean }>(
        `SELECT indexrelid::int AS oid, indisvalid AS valid FROM pg_index WHERE indexrelid = 'lots_station_status_id_idx'::regclass`,
      ))[0]!;
    const rerun = async () => {
      const runner = dataSource.createQueryRunner();
      try {
        await new LotsStationStatusKeysetIndex1764600000000().up(runner);
      } finally {
        await runner.release();
      }
    };
    const built = await state();
    await rerun();
    expect(await state()).toEqual(built);
    await db.query(`UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'lots_station_status_id_idx'::regclass`);
    await rerun();
    const rebuilt = await state();
    expect(rebuilt.valid).toBe(true);
    expect(rebuilt.oid).not.toBe(built.oid);
  });

  it('tops a seeded database up with lot ids still 1..N and every new lot given its events', async () => {
    await seed(1000, 2);
    const result = await seed(3000, 2);
    expect(result).toMatchObject({ lots: 3000, events: 6000 });
    const [range] = await db.query<{ lo: number; hi: number; without: number }>(
      `SELECT min(id) AS lo, max(id) AS hi,
              (SELECT count(*)::int FROM lots l WHERE NOT EXISTS (SELECT 1 FROM lot_events e WHERE e.lot_id = l.id)) AS without
       FROM lots`,
    );
    expect(range).toEqual({ lo: 1, hi: 3000, without: 0 });
  });

  it('pages status+station straight off the new index, with no sort of every match, after a bulk seed', async () => {
    await seed(30_000, 0);
    // The seed's own ANALYZE (autovacuum would come a minute later): the planner knows the table's size and spread.
    const [stats] = await db.query<{ tuples: number; columns: number }>(
      `SELECT (SELECT reltuples FROM pg_class WHERE relname = 'lots')::int AS tuples,
              (SELECT count(*)::int FROM pg_stats WHERE tablename = 'lots' AND attname IN ('status', 'station_id')) AS columns`,
    );
    expect(stats).toEqual({ tuples: 30_000, columns: 2 });
    // Unnamed statement with its parameters, as the app sends it: a custom plan, as in production.
    const [row] = await db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (FORMAT JSON) ${LIST_SQL}`, [0, 'hold', 3, 21]);
    const nodes = nodesOf(row!['QUERY PLAN'][0].Plan);
    expect(nodes.map((n) => n['Node Type'])).not.toContain('Sort');
    expect(nodes.find((n) => n['Node Type'] === 'Index Scan')?.['Index Name']).toBe('lots_station_status_id_idx');
  });

  it('counts the wip summary per station and status, a station without lots included with zeros', async () => {
    await db.query(`INSERT INTO stations (code, name) VALUES ('ST99', 'Idle bay') ON CONFLICT DO NOTHING`);
    const reports = new ReportsService(
      { run: (work: (m: typeof dataSource.manager) => Promise<unknown>) => work(dataSource.manager) } as unknown as DatabaseService,
      {} as WipSummaryStore,
      { get: () => ({ reportCacheRefreshMs: 5000 }) } as unknown as ConfigService<RampartConfig, true>,
    );
    const summary = await reports.computeWipSummary();
    const expected = await db.query<{ station_id: number; status: string; n: number }>(
      'SELECT station_id, status, count(*)::int AS n FROM lots GROUP BY station_id, status',
    );
    expect(summary.stations.map((s) => s.code)).toEqual([...summary.stations.map((s) => s.code)].sort());
    expect(summary.stations.at(-1)).toMatchObject({ code: 'ST99', total: 0, counts: { queued: 0, running: 0, hold: 0, done: 0 } });
    for (const row of expected) {
      expect(summary.stations.find((s) => s.stationId === row.station_id)?.counts[row.status as 'hold']).toBe(row.n);
    }
    expect(summary.stations.reduce((sum, s) => sum + s.total, 0)).toBe(30_000);
  });
});
