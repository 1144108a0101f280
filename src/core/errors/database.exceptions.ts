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

export class DbQueryTimeoutException extends DbInfrastructureException {
  constructor(timeoutMs: number, retryAfterMs: number, cause?: unknown) {
    super(ErrorCode.DB_QUERY_TIMEOUT, `The query ran longer than ${timeoutMs} ms and was cancelled`, {
      retryable: true,
      retryAfterMs,
      cause,
    });
  }
}

export class DbUnavailableException extends DbInfrastructureException {
  constructor(retryAfterMs: number, cause?: unknown) {
    super(ErrorCode.DB_UNAVAILABLE, 'The database is unavailable', {
      retryable: true,
      retryAfterMs,
      cause,
    });
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
