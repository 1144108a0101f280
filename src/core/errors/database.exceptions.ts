import { AppException } from './app.exception.js';
import { ErrorCode } from './error-code.js';

/**
 * Failures of the database as infrastructure (not of the request). Only these count
 * against the circuit breaker; constraint violations, not-found and validation errors
 * are the caller's problem and count as successes.
 */
export abstract class DbInfrastructureException extends AppException {}

export class DbPoolExhaustedException extends DbInfrastructureException {
  constructor(waitedMs: number, retryAfterMs: number, cause?: unknown) {
    super(ErrorCode.DB_POOL_EXHAUSTED, `No database connection became free within ${waitedMs} ms`, {
      retryable: true,
      retryAfterMs,
      cause,
    });
  }
}

/**
 * `cancelled`: the statement was stopped before COMMIT, so nothing it did is kept.
 * `unknown`: the COMMIT itself went unanswered; the database may have applied it, so the message
 * must not claim otherwise (CONTRACT.md: a retry with the same Idempotency-Key is safe).
 */
export type DbWriteOutcome = 'cancelled' | 'unknown';

const OUTCOME_UNKNOWN_HINT = 'its outcome is unknown; retrying with the same Idempotency-Key is safe';

export class DbQueryTimeoutException extends DbInfrastructureException {
  constructor(
    readonly timeoutMs: number,
    retryAfterMs: number,
    cause?: unknown,
    readonly outcome: DbWriteOutcome = 'cancelled',
  ) {
    super(
      ErrorCode.DB_QUERY_TIMEOUT,
      outcome === 'unknown'
        ? `The database did not confirm the write within ${timeoutMs} ms: ${OUTCOME_UNKNOWN_HINT}`
        : `The query ran longer than ${timeoutMs} ms and was cancelled`,
      { retryable: true, retryAfterMs, cause },
    );
  }
}

export class DbUnavailableException extends DbInfrastructureException {
  constructor(
    retryAfterMs: number,
    cause?: unknown,
    readonly outcome: DbWriteOutcome = 'cancelled',
  ) {
    super(
      ErrorCode.DB_UNAVAILABLE,
      outcome === 'unknown'
        ? `The database connection failed while the write was being committed: ${OUTCOME_UNKNOWN_HINT}`
        : 'The database is unavailable',
      { retryable: true, retryAfterMs, cause },
    );
  }
}

/** Not an infrastructure failure itself: the breaker refusing work without touching the pool. */
export class DbCircuitOpenException extends AppException {
  constructor(retryAfterMs: number) {
    super(ErrorCode.DB_CIRCUIT_OPEN, 'The database circuit is open; failing fast', {
      retryable: true,
      retryAfterMs,
    });
  }
}
