import { describe, expect, it } from 'vitest';
import { DbQueryTimeoutException, DbUnavailableException, NotFoundException } from '../core/errors/index.js';
import { BREAKER_DEFAULTS, BreakerService } from '../resilience/breaker.service.js';
import { DatabaseService } from './database.service.js';
import { mapDbError } from './db-error.mapper.js';
import { PoolManager, type PoolStats, type SqlClient } from './pool-manager.js';

const readTimeout = () => new Error('Query read timeout');
const reset = () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });

/** The contract of PgPoolManager.withConnection: infrastructure failures map, and discard the connection. */
class FakePool extends PoolManager {
  readonly dataSource = undefined as never;
  readonly sent: string[] = [];
  released: 'reused' | 'discarded' | null = null;
  constructor(private readonly fail: (text: string) => Error | null) {
    super();
  }
  stats(): PoolStats {
    return { max: 1, size: 1, open: 1, inUse: 0, idle: 1, waiting: 0, saturation: 0 };
  }
  async close(): Promise<void> {}
  async withConnection<T>(work: (sql: SqlClient) => Promise<T>): Promise<T> {
    let broken = false;
    try {
      return await work({
        query: async <R>(text: string) => {
          this.sent.push(text.split(' ')[0]!);
          const error = this.fail(text);
          if (error) throw error;
          return [] as R[];
        },
      });
    } catch (error) {
      const mapped = mapDbError(error, { poolTimeoutMs: 100, queryTimeoutMs: 1000 });
      broken = mapped !== error;
      throw mapped;
    } finally {
      this.released = broken ? 'discarded' : 'reused';
    }
  }
}

function service(fail: (text: string) => Error | null) {
  const pool = new FakePool(fail);
  const breaker = new BreakerService({ name: 'test', ...BREAKER_DEFAULTS });
  return { pool, breaker, db: new DatabaseService(pool, breaker) };
}

describe('DatabaseService.transaction', () => {
  it('commits after the statements answered', async () => {
    const { pool, db, breaker } = service(() => null);
    await expect(db.transaction((sql) => sql.query('INSERT x'))).resolves.toEqual([]);
    expect(pool.sent).toEqual(['BEGIN', 'INSERT', 'COMMIT']);
    expect(pool.released).toBe('reused');
    breaker.shutdown();
  });

  it('never sends COMMIT or ROLLBACK after a statement timed out; discards the connection; says "cancelled"', async () => {
    const { pool, db, breaker } = service((text) => (text.startsWith('INSERT') ? readTimeout() : null));
    const error = await db.transaction((sql) => sql.query('INSERT x')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DbQueryTimeoutException);
    expect((error as DbQueryTimeoutException).message).toMatch(/was cancelled/);
    expect(pool.sent).toEqual(['BEGIN', 'INSERT']);
    expect(pool.released).toBe('discarded');
    breaker.shutdown();
  });

  it('discards the connection even when the work replaced the driver error with its own', async () => {
    const { pool, db, breaker } = service((text) => (text.startsWith('INSERT') ? reset() : null));
    const error = await db
      .transaction(async (sql) => {
        await sql.query('INSERT x').catch(() => {
          throw new NotFoundException('masked');
        });
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DbUnavailableException);
    expect(pool.sent).toEqual(['BEGIN', 'INSERT']);
    expect(pool.released).toBe('discarded');
    breaker.shutdown();
  });

  it('rolls back and reuses the connection when the work fails for a reason of its own', async () => {
    const { pool, db, breaker } = service(() => null);
    const notFound = new NotFoundException();
    await expect(db.transaction(() => Promise.reject(notFound))).rejects.toBe(notFound);
    expect(pool.sent).toEqual(['BEGIN', 'ROLLBACK']);
    expect(pool.released).toBe('reused');
    breaker.shutdown();
  });

  it('rolls back (not discards) when another connection failed inside the work, since this one answered everything', async () => {
    const { pool, db, breaker } = service(() => null);
    const elsewhere = new DbUnavailableException(1000);
    await expect(db.transaction(() => Promise.reject(elsewhere))).rejects.toBe(elsewhere);
    expect(pool.sent).toEqual(['BEGIN', 'ROLLBACK']);
    expect(pool.released).toBe('reused');
    breaker.shutdown();
  });

  it('says the outcome is unknown, not cancelled, when the COMMIT itself timed out or its connection failed', async () => {
    for (const [fault, type] of [
      [readTimeout, DbQueryTimeoutException],
      [reset, DbUnavailableException],
    ] as const) {
      const { pool, db, breaker } = service((text) => (text === 'COMMIT' ? fault() : null));
      const error = await db.transaction((sql) => sql.query('INSERT x')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(type);
      expect(error).toMatchObject({ outcome: 'unknown', retryable: true });
      expect((error as Error).message).not.toMatch(/cancel/);
      expect((error as Error).message).toMatch(/outcome is unknown; retrying with the same Idempotency-Key is safe/);
      expect(pool.released).toBe('discarded');
      breaker.shutdown();
    }
  });

  it('keeps a statement error the database answered at COMMIT as it is (the outcome is known: rolled back)', async () => {
    const serialization = Object.assign(new Error('could not serialize access'), { code: '40001' });
    const { db, breaker } = service((text) => (text === 'COMMIT' ? serialization : null));
    await expect(db.transaction((sql) => sql.query('INSERT x'))).rejects.toBe(serialization);
    breaker.shutdown();
  });
});
