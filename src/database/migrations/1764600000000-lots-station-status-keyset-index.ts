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
 * and each statement is its own query. A failed concurrent build leaves an INVALID index behind;
 * the migration is then not recorded, and its next run drops that leftover before building.
 */
export class LotsStationStatusKeysetIndex1764600000000 implements MigrationInterface {
  name = 'LotsStationStatusKeysetIndex1764600000000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX CONCURRENTLY IF EXISTS lots_station_status_id_idx');
    await q.query('CREATE INDEX CONCURRENTLY lots_station_status_id_idx ON lots (station_id, status, id)');
    await q.query('DROP INDEX CONCURRENTLY IF EXISTS lots_station_status_idx');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX CONCURRENTLY IF EXISTS lots_station_status_idx');
    await q.query('CREATE INDEX CONCURRENTLY lots_station_status_idx ON lots (station_id, status)');
    await q.query('DROP INDEX CONCURRENTLY IF EXISTS lots_station_status_id_idx');
  }
}
