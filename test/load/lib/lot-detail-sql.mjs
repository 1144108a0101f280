// The text of Rampart's lot detail (src/domain/lots/lots.service.ts), for the yardsticks that run
// it without Rampart: the bare app's /bench/db1 and pg-prepared.mjs. bench.mjs checks that the
// bare app's answer matches Rampart's, so a drift of the two texts shows there.
export const LOT_DETAIL_SQL = `/* lots.get */ SELECT l.id, l.code, l.product, l.station_id, l.status, l.priority, l.updated_at,
           (SELECT coalesce(json_agg(e ORDER BY e.at DESC), '[]') FROM (
              SELECT id, at, kind, station_id, payload FROM lot_events WHERE lot_id = l.id ORDER BY at DESC LIMIT 20) e) AS events,
           (SELECT coalesce(json_agg(n ORDER BY n.created_at DESC, n.id DESC), '[]') FROM (
              SELECT id, lot_id, author_id, text, created_at FROM lot_notes WHERE lot_id = l.id ORDER BY created_at DESC, id DESC LIMIT 50) n) AS notes
         FROM lots l WHERE l.id = $1`;
