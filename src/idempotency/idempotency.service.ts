import type { Logger } from 'pino';
import { DatabaseService } from '../database/database.service.js';
import type { SqlClient } from '../database/pool-manager.js';
import { IdempotencyInProgressException, IdempotencyKeyMismatchException } from './idempotency.exceptions.js';

/** One keyed request, as the interceptor derived it from the route, the header and the user. */
export interface IdempotencyScope {
  userId: number;
  key: string;
  /** requestFingerprint(): method, route, path parameters and canonical body. */
  fingerprint: string;
  /** The route's success status, stored with the answer (only answers that did the work are kept). */
  status: number;
  /** Set when the answer came from the store; the interceptor then adds `Idempotent-Replayed`. */
  replayed: boolean;
}

/** CONTRACT.md promises at least 24 h; rows are purged once older than this. */
export const IDEMPOTENCY_RETENTION_MS = 24 * 60 * 60 * 1000;
export const IDEMPOTENCY_PURGE_INTERVAL_MS = 60 * 60 * 1000;
/** The first request holds its transaction only as long as its own statements take. */
export const IN_PROGRESS_RETRY_AFTER_MS = 1000;

interface StoredAnswer {
  fingerprint: string;
  status: number;
  response: unknown;
}

/**
 * The one idempotency mechanism. It is an explicit service call rather than an interceptor
 * around the handler because the key must be written on the very transaction that does the
 * work: the interceptor only validates the header and builds the scope; the service that owns
 * the write passes its statements in here.
 *
 * "In progress" is a transaction-scoped advisory lock on (user, key), taken first with
 * `pg_try_advisory_xact_lock`: a concurrent duplicate is told 409 at once instead of queueing
 * behind the first, and the lock ends with the first transaction, whose key row is committed by
 * then. Only answers that did the work are stored; an error rolled the work back, so a repeat
 * simply runs again.
 */
export class IdempotencyService {
  private purgeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: DatabaseService,
    private readonly logger: Logger,
  ) {}

  /** A database write: `work` runs on the transaction that also stores the key and answer. */
  write<T>(scope: IdempotencyScope | null, work: (sql: SqlClient) => Promise<T>): Promise<T> {
    return this.db.transaction(async (sql) => {
      if (scope === null) return work(sql);
      const stored = await this.claim(sql, scope);
      if (stored !== null) return stored.response as T;
      const result = await work(sql);
      await this.remember(sql, scope, result);
      return result;
    });
  }

  /**
   * Work whose effect lies outside this database (a request to the cluster supervisor): the key
   * row is its only row, committed right after the effect answered. Should that COMMIT fail, the
   * effect happened without its key; the error then says the outcome is unknown, and the effects
   * that use this (a rolling restart joins one already running) tolerate a repeat. The key's
   * transaction holds one pool connection while `work` runs; its own queries use others.
   */
  effect<T>(scope: IdempotencyScope | null, work: () => Promise<T>): Promise<T> {
    if (scope === null) return work();
    return this.write(scope, () => work());
  }

  /** Deletes answers older than the retention; returns how many. */
  async purgeExpired(retentionMs = IDEMPOTENCY_RETENTION_MS): Promise<number> {
    const rows = await this.db.run((sql) =>
      sql.query<{ n: string }>(
        `/* idempotency.purge */ WITH gone AS (DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1) RETURNING 1)
         SELECT count(*) AS n FROM gone`,
        [retentionMs / 1000],
      ),
    );
    return Number(rows[0]?.n ?? 0);
  }

  startPurging(intervalMs = IDEMPOTENCY_PURGE_INTERVAL_MS): void {
    if (this.purgeTimer) return;
    this.purgeTimer = setInterval(() => {
      this.purgeExpired().then(
        (n) => n > 0 && this.logger.info({ purged: n }, 'expired idempotency keys purged'),
        // The next round tries again; an unreachable database is reported by health, not here.
        (error: unknown) => this.logger.warn({ err: error }, 'idempotency key purge failed'),
      );
    }, intervalMs);
    this.purgeTimer.unref();
  }

  stopPurging(): void {
    clearInterval(this.purgeTimer);
    this.purgeTimer = undefined;
  }

  private async claim(sql: SqlClient, scope: IdempotencyScope): Promise<StoredAnswer | null> {
    const [lock] = await sql.query<{ locked: boolean }>(
      '/* idempotency.lock */ SELECT pg_try_advisory_xact_lock($1::int, hashtext($2)) AS locked',
      [scope.userId, scope.key],
    );
    if (!lock?.locked) throw new IdempotencyInProgressException(IN_PROGRESS_RETRY_AFTER_MS);
    // A separate statement: its snapshot is taken after the lock, so it sees a row the previous
    // holder committed.
    const [row] = await sql.query<StoredAnswer>(
      '/* idempotency.get */ SELECT fingerprint, status, response FROM idempotency_keys WHERE user_id = $1 AND key = $2',
      [scope.userId, scope.key],
    );
    if (!row) return null;
    if (row.fingerprint !== scope.fingerprint) throw new IdempotencyKeyMismatchException();
    scope.replayed = true;
    scope.status = row.status;
    return row;
  }

  private async remember(sql: SqlClient, scope: IdempotencyScope, result: unknown): Promise<void> {
    try {
      await sql.query(
        `/* idempotency.store */ INSERT INTO idempotency_keys (user_id, key, fingerprint, state, status, response)
         VALUES ($1, $2, $3, 'completed', $4, $5)`,
        [scope.userId, scope.key, scope.fingerprint, scope.status, JSON.stringify(result ?? null)],
      );
    } catch (error) {
      // Unreachable while the lock is held (a hashtext collision only ever yields a spurious
      // 409); should it happen, rolling back and letting the retry replay is the safe answer.
      if ((error as { code?: unknown } | null)?.code === '23505') {
        throw new IdempotencyInProgressException(IN_PROGRESS_RETRY_AFTER_MS);
      }
      throw error;
    }
  }
}
