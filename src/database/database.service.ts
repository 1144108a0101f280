import { Inject, Injectable } from '@nestjs/common';
import { DbInfrastructureException, DbQueryTimeoutException, DbUnavailableException } from '../core/errors/index.js';
import { BreakerService, MAIN_DB_BREAKER } from '../resilience/breaker.service.js';
import { mapDbError } from './db-error.mapper.js';
import { PoolManager, type SqlClient } from './pool-manager.js';

// Only the class of the mapped error matters here, not its message.
const CLASSIFY_ONLY = { poolTimeoutMs: 0, queryTimeoutMs: 0 };
const isConnectionFailure = (error: unknown) => mapDbError(error, CLASSIFY_ONLY) instanceof DbInfrastructureException;

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

  /**
   * Runs `work` between BEGIN and COMMIT on one connection, keeping the commit point ours:
   * COMMIT is sent only after every statement has answered. When a statement on this
   * connection times out or the link fails, nothing more is sent on it (no ROLLBACK whose
   * fate would be as unknown as the statement's): the connection is discarded, and a server
   * that sees a connection end inside a transaction rolls it back, even if the statement's
   * bytes are still in flight and arrive later. Only a failure of the COMMIT itself leaves the
   * outcome unknown, and the error then says so instead of claiming a cancellation.
   */
  async transaction<T>(work: (sql: SqlClient) => Promise<T>): Promise<T> {
    let committing = false;
    try {
      return await this.breaker.execute(() =>
        this.pool.withConnection(async (sql) => {
          // The raw driver error of this connection, if one failed: rethrowing it (rather than
          // whatever `work` made of it) is what makes withConnection discard the connection.
          let connectionError: unknown = null;
          const tracked: SqlClient = {
            query: async <R>(text: string, params?: unknown[]) => {
              try {
                return await sql.query<R>(text, params);
              } catch (error) {
                if (isConnectionFailure(error)) connectionError ??= error;
                throw error;
              }
            },
          };
          await tracked.query('BEGIN');
          let result: T;
          try {
            result = await work(tracked);
          } catch (error) {
            if (connectionError !== null) throw connectionError;
            // Every statement answered, so the connection's state is known and it can be reused.
            await tracked.query('ROLLBACK');
            throw error;
          }
          committing = true;
          await tracked.query('COMMIT');
          return result;
        }),
      );
    } catch (error) {
      if (!committing) throw error;
      if (error instanceof DbQueryTimeoutException && error.outcome !== 'unknown') {
        throw new DbQueryTimeoutException(error.timeoutMs, error.retryAfterMs ?? 0, error.cause, 'unknown');
      }
      if (error instanceof DbUnavailableException && error.outcome !== 'unknown') {
        throw new DbUnavailableException(error.retryAfterMs ?? 0, error.cause, 'unknown');
      }
      throw error;
    }
  }
}
