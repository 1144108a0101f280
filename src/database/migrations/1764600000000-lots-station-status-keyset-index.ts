import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `GET /api/lots?status=&station=` pages by `id`. The old `(station_id, status)` index finds the
 * matching rows but not in `id` order, so PostgreSQL fetched every match and sorted it for each
 * page: 30-300 ms at 1M lots, growing with the table. `(station_id, status, id)` hands the rows
 * over already in keyset order, so a page reads about `limit` rows at any table size; it also
 * covers every query the old index served (its prefix), which is dropped.
 *
 * Built CONCURRENTLY, so writes to `lots` go on while a big table is indexed (minutes at tens of
 * millions of rows). CONCURRENTLY cannot run inside a transaction, hence `transaction = false`,
 * and each statement is its own query. An index of that name that is already valid (an
 * operator built it by hand ahead of the upgrade, RUNBOOK "Index builds on big tables") is
 * kept; an INVALID one, what a failed or interrupted concurrent build leaves behind, is dropped
 * and built again.
 */
export class LotsStationStatusKeysetIndex1764600000000 implements MigrationInterface {
  name = 'LotsStationStatusKeysetIndex1764600000000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    const [existing] = (await q.query(
      `SELECT x.indisvalid AS valid FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
       WHERE c.relname = 'lots_station_status_id_idx' AND c.relnamespace = current_schema()::regnamespace`,
    )) as { valid: boolean }[];
    if (!existing?.valid) {
      await q.query('DROP INDEX CONCURRENTLY IF EXISTS lots_station_status_id_idx');
      await q.query('CREATE INDEX CONCURRENTLY lots_station_status_id_idx ON lots (station_id, status, id)');
    }
    await q.query('DROP INDEX CONCURRENTLY IF EXISTS lots_station_status_idx');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX CONCURRENTLY IF EXISTS lots_station_status_idx');
    await q.query('CREATE INDEX CONCURRENTLY lots_station_status_idx ON lots (station_id, status)');
    await q.query('DROP INDEX CONCURRENTLY IF EXISTS lots_station_status_id_idx');
  }
}
