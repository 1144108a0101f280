import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseConfig } from '../../src/config/rampart-config.js';
import { DbQueryTimeoutException } from '../../src/core/errors/index.js';
import { PgPoolManager } from '../../src/database/pool-manager.js';
import { prepared } from '../../src/database/prepared-statement.js';
import { FaultProxy } from '../chaos/support/fault-proxy.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const LOOKUP = prepared('/* test.prepared_lookup */ SELECT $1::int * 2 AS doubled');
const SLEEP = prepared('/* test.prepared_sleep */ SELECT pg_sleep($1::float8 / 1000) AS slept');
const PREPARED = 'SELECT name, statement FROM pg_prepared_statements ORDER BY name';

const silent = { warn: () => undefined, debug: () => undefined };

/**
 * Statements registered with `prepared()` go out named on the request pool (parsed and planned
 * once per connection) and keep every guarantee of an unnamed one; DB_PREPARED_STATEMENTS=false
 * (PgBouncer in transaction mode without prepared-statement support) sends them unnamed.
 */
describe('prepared statements on the request pool', () => {
  let db: TestDatabase;
  const pools: PgPoolManager[] = [];
  const poolWith = (overrides: Partial<DatabaseConfig>, url = db.url, logger: ConstructorParameters<typeof PgPoolManager>[2] = silent) => {
    const config: DatabaseConfig = {
      url: db.url,
      // One connection, so every call below runs on the connection the first one prepared on.
      poolSize: 1,
      maxOverflow: 0,
      poolTimeoutMs: 2000,
      idleTimeoutMs: 30_000,
      queryTimeoutMs: 5000,
      connectTimeoutMs: 5000,
      keepAliveIdleMs: 10_000,
      slowQueryMs: 0,
      connectionMaxLifetimeS: 0,
      preparedStatements: true,
      embeddedPort: 0,
      seedLots: 0,
      adminUsername: 'admin',
      adminPassword: null,
      ...overrides,
    };
    const pool = new PgPoolManager(url, config, logger);
    pools.push(pool);
    return pool;
  };

  beforeAll(async () => {
    db = await createTestDatabase('rampart_prepared');
  });
  afterAll(async () => {
    for (const pool of pools) await pool.close();
    await db?.drop();
  });

  it('prepares a registered statement once per connection and answers with its parameters', async () => {
    const pool = poolWith({});
    const answers: unknown[] = [];
    for (const n of [1, 2, 3]) answers.push(await pool.withConnection((sql) => sql.query<{ doubled: number }>(LOOKUP, [n])));
    expect(answers).toEqual([[{ doubled: 2 }], [{ doubled: 4 }], [{ doubled: 6 }]]);
    const statements = await pool.withConnection((sql) => sql.query(PREPARED));
    expect(statements).toEqual([{ name: 'test.prepared_lookup', statement: LOOKUP }]);
  });

  it('leaves statements that were not registered unnamed', async () => {
    const pool = poolWith({});
    await pool.withConnection((sql) => sql.query('/* test.unregistered */ SELECT $1::int AS n', [1]));
    expect(await pool.withConnection((sql) => sql.query(PREPARED))).toEqual([]);
  });

  it('sends every statement unnamed when DB_PREPARED_STATEMENTS is off', async () => {
    const pool = poolWith({ preparedStatements: false });
    expect(await pool.withConnection((sql) => sql.query(LOOKUP, [5]))).toEqual([{ doubled: 10 }]);
    expect(await pool.withConnection((sql) => sql.query(PREPARED))).toEqual([]);
  });

  it('answers once the server connection has lost the statement (a pooler in transaction mode), then sends every statement unnamed with one warning', async () => {
    const warnings: { obj: unknown; msg: string }[] = [];
    // `as never`: pino's LogFn has overloads; the pool calls it as (object, message) only.
    const pool = poolWith({}, db.url, { warn: ((obj: unknown, msg: string) => warnings.push({ obj, msg })) as never, debug: () => undefined });
    expect(await pool.withConnection((sql) => sql.query(LOOKUP, [1]))).toEqual([{ doubled: 2 }]);
    // What a transaction-mode pooler does to the client: its next Bind lands on a server
    // connection that never saw the Parse. Here the one connection forgets it instead.
    await pool.withConnection((sql) => sql.query('DEALLOCATE ALL'));
    expect(await pool.withConnection((sql) => sql.query(LOOKUP, [2]))).toEqual([{ doubled: 4 }]);
    expect(await pool.withConnection((sql) => sql.query(LOOKUP, [3]))).toEqual([{ doubled: 6 }]);
    expect(await pool.withConnection((sql) => sql.query(PREPARED))).toEqual([]);
    expect(warnings.map((w) => w.msg)).toEqual([expect.stringContaining('set DB_PREPARED_STATEMENTS=false')]);
    expect(warnings[0]!.obj).toMatchObject({ statement: 'test.prepared_lookup', code: '26000' });
  });

  it('keeps the statement timeout, and the connection still serves the prepared statement after it', async () => {
    const pool = poolWith({ queryTimeoutMs: 200 });
    await expect(pool.withConnection((sql) => sql.query(SLEEP, [0]))).resolves.toHaveLength(1);
    await expect(pool.withConnection((sql) => sql.query(SLEEP, [2000]))).rejects.toBeInstanceOf(DbQueryTimeoutException);
    await expect(pool.withConnection((sql) => sql.query(SLEEP, [0]))).resolves.toHaveLength(1);
  });

  it('ends a named statement on a silent link at the read timeout, and prepares again on the fresh connection', async () => {
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: Number(new URL(db.url).port || 5432) });
    try {
      const pool = poolWith({ queryTimeoutMs: 200 }, proxy.url(db.url));
      expect(await pool.withConnection((sql) => sql.query(LOOKUP, [1]))).toEqual([{ doubled: 2 }]);
      proxy.vanish();
      const started = performance.now();
      await expect(pool.withConnection((sql) => sql.query(LOOKUP, [2]))).rejects.toBeInstanceOf(DbQueryTimeoutException);
      // DB_QUERY_TIMEOUT_MS + 1 s: the client-side backstop, not a hang.
      expect(performance.now() - started).toBeLessThan(3000);
      proxy.pass();
      expect(await pool.withConnection((sql) => sql.query(LOOKUP, [3]))).toEqual([{ doubled: 6 }]);
    } finally {
      await proxy.close();
    }
  }, 10_000);
});
