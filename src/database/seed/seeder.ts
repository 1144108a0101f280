import type { EntityManager } from 'typeorm';

export interface SeedResult {
  stations: number;
  equipment: number;
  lots: number;
  events: number;
}

/** Where a long seed is: `done` of `total` rows of `table` so far. */
export interface SeedProgress {
  table: 'lots' | 'lot_events';
  done: number;
  total: number;
}

const STATIONS = ['Wafer prep', 'Lithography', 'Etch', 'Deposition', 'Implant', 'CMP', 'Metrology', 'Packaging'];
/** Rows per statement: big enough that the per-statement cost vanishes, small enough to show progress every second or two. */
const LOTS_PER_CHUNK = 100_000;
const EVENT_LOTS_PER_CHUNK = 10_000;

/**
 * Deterministic demo data: every value derives from the row number through PostgreSQL's
 * integer hash, so the same `lots` gives the same database on every machine, and a million
 * lots (ten million events) take a minute or two because they are generated inside the server
 * (generate_series), never sent row by row. Topping up (a bigger `lots` on a seeded database)
 * adds only the missing rows.
 */
export async function seedDemoData(
  manager: EntityManager,
  lots: number,
  eventsPerLot = 10,
  onProgress: (progress: SeedProgress) => void = () => {},
): Promise<SeedResult> {
  await manager.query(`SET LOCAL rampart.silent = 'on'`);
  await manager.query(
    `INSERT INTO stations (code, name)
     SELECT 'ST' || lpad(i::text, 2, '0'), name FROM unnest($1::text[]) WITH ORDINALITY AS t(name, i)
     ON CONFLICT (code) DO NOTHING`,
    [STATIONS],
  );
  await manager.query(`
    INSERT INTO equipment (station_id, code, state, state_since)
    SELECT s.id, 'EQ-' || s.code || '-' || e,
           (ARRAY['run','idle','down','maint'])[1 + abs(hashint4(s.id * 31 + e)) % 4],
           timestamptz '2026-01-01 00:00:00+00' + (abs(hashint4(s.id * 17 + e)) % 86400) * interval '1 second'
    FROM stations s CROSS JOIN generate_series(1, 4) AS e
    ON CONFLICT (code) DO NOTHING`);
  // Every reference below is taken from rows that exist (station ids from `stations`, lot ids from
  // `lots`), so the foreign-key checks, one index probe per row and most of the time of a
  // ten-million-row load, can prove nothing: a superuser seed skips them (and the per-row
  // notification trigger, silenced anyway) the way pg_restore --disable-triggers does.
  const [{ superuser }] = (await manager.query(`SELECT rolsuper AS superuser FROM pg_roles WHERE rolname = current_user`)) as { superuser: boolean }[];
  if (superuser) await manager.query(`SET LOCAL session_replication_role = replica`);
  for (let from = 1; from <= lots; from += LOTS_PER_CHUNK) {
    const to = Math.min(lots, from + LOTS_PER_CHUNK - 1);
    await manager.query(
      `INSERT INTO lots (code, product, station_id, status, priority, updated_at)
       SELECT 'LOT-' || lpad(i::text, 7, '0'),
              (ARRAY['MCU-32','PMIC-7','RF-FE','SENSOR-X','DRAM-8G'])[1 + abs(hashint4(i * 7)) % 5],
              st.ids[1 + abs(hashint4(i)) % cardinality(st.ids)],
              (ARRAY['queued','running','hold','done'])[1 + abs(hashint4(i * 13)) % 4],
              abs(hashint4(i * 3)) % 5,
              timestamptz '2026-01-01 00:00:00+00' + (i % 100000) * interval '1 minute'
       FROM generate_series($1::int, $2::int) AS i, (SELECT array_agg(id ORDER BY code) AS ids FROM stations) AS st
       -- ON CONFLICT alone would draw an id for every existing lot of a top-up: lot ids would
       -- no longer run 1..N, which callers (the growth scenario) rely on.
       WHERE NOT EXISTS (SELECT 1 FROM lots x WHERE x.code = 'LOT-' || lpad(i::text, 7, '0'))
       ON CONFLICT (code) DO NOTHING`,
      [from, to],
    );
    onProgress({ table: 'lots', done: to, total: lots });
  }
  // Events by ranges of lot id. The seeder gives every lot its events in id order, so the lots
  // with events are the ids up to the highest lot_id in lot_events (one index probe): a top-up
  // starts after it, and the chunks never look at the millions of events already there.
  const [range] = (await manager.query(
    `SELECT coalesce((SELECT max(lot_id) FROM lot_events), 0) + 1 AS lo, coalesce((SELECT max(id) FROM lots), 0) AS hi`,
  )) as { lo: number; hi: number }[];
  const { lo, hi } = range!;
  const totalEvents = Math.max(0, hi - lo + 1) * eventsPerLot;
  for (let from = lo; eventsPerLot > 0 && from <= hi; from += EVENT_LOTS_PER_CHUNK) {
    const to = Math.min(hi, from + EVENT_LOTS_PER_CHUNK - 1);
    await manager.query(
      `INSERT INTO lot_events (lot_id, at, kind, station_id, payload)
       SELECT l.id,
              l.updated_at - (e * interval '7 minutes'),
              (ARRAY['moved_in','started','measured','held','released','moved_out'])[1 + abs(hashint4(l.id * 11 + e)) % 6],
              l.station_id,
              jsonb_build_object('seq', e, 'yield', 90 + abs(hashint4(l.id + e)) % 10)
       FROM lots l CROSS JOIN generate_series(1, $3::int) AS e
       WHERE l.id BETWEEN $1 AND $2`,
      [from, to, eventsPerLot],
    );
    onProgress({ table: 'lot_events', done: (to - lo + 1) * eventsPerLot, total: totalEvents });
  }
  // Fresh statistics: right after a bulk load the planner has none (autovacuum comes later) and
  // guesses a handful of rows per filter, which sent the combined status+station list to a
  // fetch-everything-and-sort plan (issue 17). ANALYZE samples, so it costs about a second at 1M lots.
  await manager.query('ANALYZE stations, equipment, lots, lot_events');
  const [counts] = (await manager.query(`
    SELECT (SELECT count(*) FROM stations)::int AS stations, (SELECT count(*) FROM equipment)::int AS equipment,
           (SELECT count(*) FROM lots)::int AS lots, (SELECT count(*) FROM lot_events)::int AS events`)) as SeedResult[];
  return counts as SeedResult;
}
