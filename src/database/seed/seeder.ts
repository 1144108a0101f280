import type { EntityManager } from 'typeorm';

export interface SeedResult {
  stations: number;
  equipment: number;
  lots: number;
  events: number;
}

const STATIONS = ['Wafer prep', 'Lithography', 'Etch', 'Deposition', 'Implant', 'CMP', 'Metrology', 'Packaging'];

/**
 * Deterministic demo data: every value derives from the row number through PostgreSQL's
 * integer hash, so the same `lots` gives the same database on every machine, and a million
 * events take seconds because they are generated inside the server.
 */
export async function seedDemoData(manager: EntityManager, lots: number, eventsPerLot = 10): Promise<SeedResult> {
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
  const stationCount = STATIONS.length;
  await manager.query(
    `INSERT INTO lots (code, product, station_id, status, priority, updated_at)
     SELECT 'LOT-' || lpad(i::text, 7, '0'),
            (ARRAY['MCU-32','PMIC-7','RF-FE','SENSOR-X','DRAM-8G'])[1 + abs(hashint4(i * 7)) % 5],
            1 + abs(hashint4(i)) % $2,
            (ARRAY['queued','running','hold','done'])[1 + abs(hashint4(i * 13)) % 4],
            abs(hashint4(i * 3)) % 5,
            timestamptz '2026-01-01 00:00:00+00' + (i % 100000) * interval '1 minute'
     FROM generate_series(1, $1::int) AS i
     ON CONFLICT (code) DO NOTHING`,
    [lots, stationCount],
  );
  await manager.query(
    `INSERT INTO lot_events (lot_id, at, kind, station_id, payload)
     SELECT l.id,
            l.updated_at - (e * interval '7 minutes'),
            (ARRAY['moved_in','started','measured','held','released','moved_out'])[1 + abs(hashint4(l.id * 11 + e)) % 6],
            l.station_id,
            jsonb_build_object('seq', e, 'yield', 90 + abs(hashint4(l.id + e)) % 10)
     FROM lots l CROSS JOIN generate_series(1, $1::int) AS e
     WHERE NOT EXISTS (SELECT 1 FROM lot_events x WHERE x.lot_id = l.id)`,
    [eventsPerLot],
  );
  const [counts] = (await manager.query(`
    SELECT (SELECT count(*) FROM stations)::int AS stations, (SELECT count(*) FROM equipment)::int AS equipment,
           (SELECT count(*) FROM lots)::int AS lots, (SELECT count(*) FROM lot_events)::int AS events`)) as SeedResult[];
  return counts as SeedResult;
}
