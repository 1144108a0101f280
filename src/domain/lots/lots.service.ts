import { Injectable } from '@nestjs/common';
import { parseCanonicalInt } from '../../core/canonical-int.js';
import { NotFoundException, ValidationFailedException } from '../../core/errors/index.js';
import { DEFAULT_PAGE_LIMIT } from '../../core/page-limit.query.js';
import { DatabaseService } from '../../database/database.service.js';
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
    return this.db.run(async (m) => {
      const [lot] = (await m.query(
        '/* lots.get */ SELECT id, code, product, station_id, status, priority, updated_at FROM lots WHERE id = $1',
        [id],
      )) as LotRow[];
      if (!lot) throw new NotFoundException(`Lot ${id} does not exist`);
      const events = (await m.query(
        '/* lots.events */ SELECT id, at, kind, station_id, payload FROM lot_events WHERE lot_id = $1 ORDER BY at DESC LIMIT 20',
        [id],
      )) as { id: string; at: Date; kind: string; station_id: number; payload: Record<string, unknown> }[];
      const notes = (await m.query(
        '/* lots.notes */ SELECT id, lot_id, author_id, text, created_at FROM lot_notes WHERE lot_id = $1 ORDER BY created_at DESC, id DESC LIMIT 50',
        [id],
      )) as NoteRow[];
      return {
        ...toLot(lot),
        events: events.map(
          (e): LotEventDto => ({ id: Number(e.id), at: e.at.toISOString(), kind: e.kind, stationId: e.station_id, payload: e.payload }),
        ),
        notes: notes.map(toNote),
      };
    });
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
