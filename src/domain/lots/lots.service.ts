import { Injectable } from '@nestjs/common';
import { parseCanonicalInt } from '../../core/canonical-int.js';
import { NotFoundException, ValidationFailedException } from '../../core/errors/index.js';
import { DEFAULT_PAGE_LIMIT } from '../../core/page-limit.query.js';
import { DatabaseService } from '../../database/database.service.js';
import { isoFromJsonTimestamp } from '../../database/json-timestamp.js';
import { prepared } from '../../database/prepared-statement.js';
import { type IdempotencyScope, IdempotencyService } from '../../idempotency/idempotency.service.js';
import type { LotStatus } from '../../database/entities/index.js';
import type { LotDetailDto, LotDto, LotEventDto, LotPageDto, NoteDto } from './lots.dto.js';

interface LotRow {
  id: number;
  code: string;
  product: string;
  station_id: number;
  status: LotStatus;
  priority: number;
  updated_at: Date;
}

const toLot = (row: LotRow): LotDto => ({
  id: row.id,
  code: row.code,
  product: row.product,
  stationId: row.station_id,
  status: row.status,
  priority: row.priority,
  updatedAt: row.updated_at.toISOString(),
});

interface NoteRow {
  id: string;
  lot_id: number;
  author_id: number;
  text: string;
  created_at: Date;
}

const toNote = (row: NoteRow): NoteDto => ({
  id: Number(row.id),
  lotId: row.lot_id,
  authorId: row.author_id,
  text: row.text,
  createdAt: row.created_at.toISOString(),
});

/** Rows as PostgreSQL renders them inside json_agg: timestamps as ISO text with an offset. */
interface JsonEventRow {
  id: number;
  at: string;
  kind: string;
  station_id: number;
  payload: Record<string, unknown>;
}
interface JsonNoteRow {
  id: number;
  lot_id: number;
  author_id: number;
  text: string;
  created_at: string;
}


/**
 * One statement, one round trip: the lot with its last 20 events and last 50 notes as JSON
 * arrays. Three statements cost three round trips (and, on this hardware, most of the route's
 * CPU is per round trip, in both Node and PostgreSQL); one also reads a single snapshot, so the
 * events and notes always belong to the lot row returned. Prepared: a lookup by key, whose
 * parse and plan cost PostgreSQL more than its execution.
 */
const LOT_DETAIL = prepared(
  `/* lots.get */ SELECT l.id, l.code, l.product, l.station_id, l.status, l.priority, l.updated_at,
           (SELECT coalesce(json_agg(e ORDER BY e.at DESC), '[]') FROM (
              SELECT id, at, kind, station_id, payload FROM lot_events WHERE lot_id = l.id ORDER BY at DESC LIMIT 20) e) AS events,
           (SELECT coalesce(json_agg(n ORDER BY n.created_at DESC, n.id DESC), '[]') FROM (
              SELECT id, lot_id, author_id, text, created_at FROM lot_notes WHERE lot_id = l.id ORDER BY created_at DESC, id DESC LIMIT 50) n) AS notes
         FROM lots l WHERE l.id = $1`,
);

// The cursor is the last id seen, base64url so clients treat it as opaque.
const encodeCursor = (id: number) => Buffer.from(String(id)).toString('base64url');
/** Only cursors this API could have issued: canonical base64url of an id PostgreSQL can compare. */
function decodeCursor(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const text = Buffer.from(cursor, 'base64url').toString('latin1');
  const id = parseCanonicalInt(text, 1);
  if (id === null || encodeCursor(id) !== cursor) {
    throw new ValidationFailedException([{ path: 'cursor', message: 'cursor is not one this API issued' }]);
  }
  return id;
}

@Injectable()
export class LotsService {
  constructor(
    private readonly db: DatabaseService,
    private readonly idempotency: IdempotencyService,
  ) {}

  async list(query: { status?: LotStatus; station?: number; limit?: number; cursor?: string }): Promise<LotPageDto> {
    const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
    const after = decodeCursor(query.cursor);
    const rows = await this.db.run((m) =>
      m.query(
        `/* lots.list */ SELECT id, code, product, station_id, status, priority, updated_at FROM lots
         WHERE id > $1 AND ($2::text IS NULL OR status = $2) AND ($3::int IS NULL OR station_id = $3)
         ORDER BY id LIMIT $4`,
        [after, query.status ?? null, query.station ?? null, limit + 1],
      ),
    ) as LotRow[];
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { items: page.map(toLot), nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
  }

  async get(id: number): Promise<LotDetailDto> {
    const [lot] = (await this.db.run((m) =>
      m.query(
        LOT_DETAIL,
        [id],
      ),
    )) as (LotRow & { events: JsonEventRow[]; notes: JsonNoteRow[] })[];
    if (!lot) throw new NotFoundException(`Lot ${id} does not exist`);
    return {
      ...toLot(lot),
      // Inside JSON, timestamps are ISO text with an offset and bigints plain numbers.
      events: lot.events.map(
        (e): LotEventDto => ({ id: Number(e.id), at: isoFromJsonTimestamp(e.at), kind: e.kind, stationId: e.station_id, payload: e.payload }),
      ),
      notes: lot.notes.map((n) => ({ id: Number(n.id), lotId: n.lot_id, authorId: n.author_id, text: n.text, createdAt: isoFromJsonTimestamp(n.created_at) })),
    };
  }

  /** In a transaction (with its key, when keyed): a timed-out insert is rolled back for certain. */
  async addNote(lotId: number, authorId: number, text: string, idempotency: IdempotencyScope | null = null): Promise<NoteDto> {
    return this.idempotency.write(idempotency, async (m) => {
      const [row] = await m.query<NoteRow>(
        `/* notes.insert */ INSERT INTO lot_notes (lot_id, author_id, text)
         SELECT id, $2, $3 FROM lots WHERE id = $1
         RETURNING id, lot_id, author_id, text, created_at`,
        [lotId, authorId, text],
      );
      if (!row) throw new NotFoundException(`Lot ${lotId} does not exist`);
      return toNote(row);
    });
  }
}
