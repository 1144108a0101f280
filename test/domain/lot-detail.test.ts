import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { loginWith, SESSION_TEST_ENV } from '../support/session.js';

/**
 * GET /api/lots/:id reads the lot, its events and its notes in one statement (issue 17): the
 * answer must be exactly what the three separate queries it replaced give, mapped as before
 * (ids as numbers, timestamps as UTC ISO text with milliseconds, newest first, ties by id).
 */
describe('GET /api/lots/:id', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ ...SESSION_TEST_ENV, SEED_LOTS: '20' });
  }, 60_000);
  afterAll(async () => {
    await app?.stop();
  });

  it('answers what the lot, event and note queries give, notes with equal times ordered by id', async () => {
    const [{ id: authorId }] = await app.db.query<{ id: number }>(`SELECT id FROM users WHERE username = $1`, [TEST_ADMIN.username]);
    // Two notes in the same microsecond and one with a sub-millisecond part, on lot 3.
    await app.db.query(
      `INSERT INTO lot_notes (lot_id, author_id, text, created_at) VALUES
         (3, $1, 'first', '2026-01-02T03:04:05.678901Z'), (3, $1, 'second', '2026-01-02T03:04:05.678901Z'), (3, $1, 'older', '2026-01-01T00:00:00Z')`,
      [authorId],
    );
    const session = await loginWith(app.url, TEST_ADMIN.username, TEST_ADMIN.password);
    for (const id of [1, 3]) {
      const response = await session.get(`/api/lots/${id}`);
      expect(response.status).toBe(200);
      const [lot] = await app.db.query<Record<string, unknown> & { updated_at: Date }>(
        'SELECT id, code, product, station_id, status, priority, updated_at FROM lots WHERE id = $1',
        [id],
      );
      const events = await app.db.query<{ id: string; at: Date; kind: string; station_id: number; payload: unknown }>(
        'SELECT id, at, kind, station_id, payload FROM lot_events WHERE lot_id = $1 ORDER BY at DESC, id DESC LIMIT 20',
        [id],
      );
      const notes = await app.db.query<{ id: string; lot_id: number; author_id: number; text: string; created_at: Date }>(
        'SELECT id, lot_id, author_id, text, created_at FROM lot_notes WHERE lot_id = $1 ORDER BY created_at DESC, id DESC LIMIT 50',
        [id],
      );
      const body = (await response.json()) as { events: { at: string }[] };
      // Events with the same time may come in either order (the route orders by time only).
      body.events.sort((a, b) => (a.at === b.at ? 0 : a.at < b.at ? 1 : -1));
      expect(body).toEqual({
        id: lot!.id,
        code: lot!.code,
        product: lot!.product,
        stationId: lot!.station_id,
        status: lot!.status,
        priority: lot!.priority,
        updatedAt: lot!.updated_at.toISOString(),
        events: expect.arrayContaining(
          events.map((e) => ({ id: Number(e.id), at: e.at.toISOString(), kind: e.kind, stationId: e.station_id, payload: e.payload })),
        ),
        notes: notes.map((n) => ({ id: Number(n.id), lotId: n.lot_id, authorId: n.author_id, text: n.text, createdAt: n.created_at.toISOString() })),
      });
      expect(body.events).toHaveLength(events.length);
    }
    const detail = (await (await session.get('/api/lots/3')).json()) as { notes: { text: string; createdAt: string }[] };
    expect(detail.notes.slice(0, 3).map((n) => [n.text, n.createdAt])).toEqual([
      ['second', '2026-01-02T03:04:05.678Z'],
      ['first', '2026-01-02T03:04:05.678Z'],
      ['older', '2026-01-01T00:00:00.000Z'],
    ]);
    expect((await session.get('/api/lots/999999')).status).toBe(404);
  });
});
