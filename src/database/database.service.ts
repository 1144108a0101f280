import { Inject, Injectable } from '@nestjs/common';
import { BreakerService, MAIN_DB_BREAKER } from '../resilience/breaker.service.js';
import { PoolManager, type SqlClient } from './pool-manager.js';

/**
 * The only way request handling reaches PostgreSQL: through the shared breaker, then the
 * pool. An open breaker fails fast before a connection is even asked for.
 */
@Injectable()
export class DatabaseService {
  constructor(
    private readonly pool: PoolManager,
    @Inject(MAIN_DB_BREAKER) private readonly breaker: BreakerService,
  ) {}

  run<T>(work: (sql: SqlClient) => Promise<T>): Promise<T> {
    return this.breaker.execute(() => this.pool.withConnection(work));
  }

  transaction<T>(work: (sql: SqlClient) => Promise<T>): Promise<T> {
    return this.breaker.execute(() =>
      this.pool.withConnection(async (sql) => {
        await sql.query('BEGIN');
        try {
          const result = await work(sql);
          await sql.query('COMMIT');
          return result;
        } catch (error) {
          await sql.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
      }),
    );
  }
}
