// The benchmark's baseline: a bare NestJS 12 + platform-express app with nothing but one
// controller, doing the same work as Rampart's two benchmarked routes:
//   GET /bench/json     a small fixed JSON object (Rampart: GET /api/auth/me)
//   GET /bench/db/:id   the three queries Rampart's GET /api/lots/:id made until issue 17, on
//                       one connection from a plain pg.Pool of the same size, same response shape
//   GET /bench/db1/:id  the one statement Rampart's GET /api/lots/:id makes since (the same
//                       text as src/domain/lots/lots.service.ts; the bench checks the answers match)
//   GET /bench/db1p/:id the same statement named (prepared once per connection), as Rampart sends
//                       it with DB_PREPARED_STATEMENTS on; for profile-db.mjs --bare-path, not the gate
// Plain JS: the decorators are applied as the functions they are (what tsc's __decorate does),
// so no compile step is needed. Env: PORT, DATABASE_URL, POOL_MAX. Binds 127.0.0.1 only.
import 'reflect-metadata';
import { Controller, Get, Inject, Module, NotFoundException, Param, ParseIntPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import pg from 'pg';
import { LOT_DETAIL_SQL } from './lib/lot-detail-sql.mjs';

const POOL = Symbol('POOL');

const isoUtc = (text) => new Date(text).toISOString();

class BenchController {
  constructor(pool) {
    this.pool = pool;
  }

  json() {
    return { user: { id: 1, username: 'admin', role: 'admin' } };
  }

  async db(id) {
    const client = await this.pool.connect();
    try {
      const { rows: [lot] } = await client.query(
        'SELECT id, code, product, station_id, status, priority, updated_at FROM lots WHERE id = $1',
        [id],
      );
      if (!lot) throw new NotFoundException(`Lot ${id} does not exist`);
      const { rows: events } = await client.query(
        'SELECT id, at, kind, station_id, payload FROM lot_events WHERE lot_id = $1 ORDER BY at DESC LIMIT 20',
        [id],
      );
      const { rows: notes } = await client.query(
        'SELECT id, lot_id, author_id, text, created_at FROM lot_notes WHERE lot_id = $1 ORDER BY created_at DESC, id DESC LIMIT 50',
        [id],
      );
      return {
        id: lot.id,
        code: lot.code,
        product: lot.product,
        stationId: lot.station_id,
        status: lot.status,
        priority: lot.priority,
        updatedAt: lot.updated_at.toISOString(),
        events: events.map((e) => ({ id: Number(e.id), at: e.at.toISOString(), kind: e.kind, stationId: e.station_id, payload: e.payload })),
        notes: notes.map((n) => ({ id: Number(n.id), lotId: n.lot_id, authorId: n.author_id, text: n.text, createdAt: n.created_at.toISOString() })),
      };
    } finally {
      client.release();
    }
  }
}

/** The answer of GET /api/lots/:id from the one row of LOT_DETAIL_SQL. */
function lotDetail(id, lot) {
  if (!lot) throw new NotFoundException(`Lot ${id} does not exist`);
  return {
    id: lot.id,
    code: lot.code,
    product: lot.product,
    stationId: lot.station_id,
    status: lot.status,
    priority: lot.priority,
    updatedAt: lot.updated_at.toISOString(),
    events: lot.events.map((e) => ({ id: Number(e.id), at: isoUtc(e.at), kind: e.kind, stationId: e.station_id, payload: e.payload })),
    notes: lot.notes.map((n) => ({ id: Number(n.id), lotId: n.lot_id, authorId: n.author_id, text: n.text, createdAt: isoUtc(n.created_at) })),
  };
}

BenchController.prototype.db1 = async function db1(id) {
  const { rows: [lot] } = await this.pool.query(LOT_DETAIL_SQL, [id]);
  return lotDetail(id, lot);
};

BenchController.prototype.db1p = async function db1p(id) {
  const { rows: [lot] } = await this.pool.query({ name: 'lots.get', text: LOT_DETAIL_SQL, values: [id] });
  return lotDetail(id, lot);
};

const method = (name) => Object.getOwnPropertyDescriptor(BenchController.prototype, name);
Inject(POOL)(BenchController, undefined, 0);
Get('json')(BenchController.prototype, 'json', method('json'));
Param('id', ParseIntPipe)(BenchController.prototype, 'db', 0);
Get('db/:id')(BenchController.prototype, 'db', method('db'));
Param('id', ParseIntPipe)(BenchController.prototype, 'db1', 0);
Get('db1/:id')(BenchController.prototype, 'db1', method('db1'));
Param('id', ParseIntPipe)(BenchController.prototype, 'db1p', 0);
Get('db1p/:id')(BenchController.prototype, 'db1p', method('db1p'));
Controller('bench')(BenchController);

class BareModule {}
Module({
  controllers: [BenchController],
  providers: [
    {
      provide: POOL,
      useFactory: () =>
        new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_MAX ?? 15), application_name: 'bench:bare' }),
    },
  ],
})(BareModule);

const app = await NestFactory.create(BareModule, { logger: ['error', 'warn'] });
await app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
process.stdout.write(`bare app listening on ${await app.getUrl()}\n`);
process.on('SIGTERM', () => {
  void app
    .get(POOL)
    .end()
    .catch(() => undefined)
    .finally(() => app.close().finally(() => process.exit(0)));
});
