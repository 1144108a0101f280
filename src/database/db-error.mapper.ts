import {
  DbInfrastructureException,
  DbPoolExhaustedException,
  DbQueryTimeoutException,
  DbUnavailableException,
} from '../core/errors/index.js';

export interface DbErrorContext {
  poolTimeoutMs: number;
  queryTimeoutMs: number;
}

const UNAVAILABLE_OPERATOR_STATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, in recovery)
]);

/**
 * SQLSTATEs meaning "the server or the link is the problem", not the statement: whole class 08
 * (connection exception), whole class 53 (insufficient resources: disk full, out of memory,
 * too many connections, configuration limit) and the shutdown / not-yet-accepting states.
 * Retrying later can succeed, so they are 503s, never 500s.
 */
export function isUnavailableSqlState(code: string): boolean {
  if (!/^[0-9A-Z]{5}$/.test(code)) return false;
  const sqlClass = code.slice(0, 2);
  return sqlClass === '08' || sqlClass === '53' || UNAVAILABLE_OPERATOR_STATES.has(code);
}

const UNAVAILABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

interface DriverLike {
  code?: unknown;
  message?: unknown;
  driverError?: unknown;
}

/** Retry hints: short for a busy pool, longer for a database that is away. */
export const RETRY_AFTER_MS = { poolExhausted: 1000, queryTimeout: 2000, unavailable: 3000 } as const;

/**
 * Translates what pg, pg-pool and TypeORM throw into the contract's retry-aware errors.
 * Anything else (constraint violations, syntax) is returned unchanged: it is the request's
 * fault, not the infrastructure's, and must not count against the breaker.
 */
export function mapDbError(error: unknown, context: DbErrorContext): unknown {
  if (error instanceof DbInfrastructureException) return error;
  const candidates: DriverLike[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 3 && current && typeof current === 'object'; depth += 1) {
    candidates.push(current as DriverLike);
    current = (current as DriverLike).driverError ?? (current as { cause?: unknown }).cause;
  }
  for (const candidate of candidates) {
    const code = typeof candidate.code === 'string' ? candidate.code : '';
    const message = typeof candidate.message === 'string' ? candidate.message : '';
    if (message === 'timeout exceeded when trying to connect') {
      return new DbPoolExhaustedException(context.poolTimeoutMs, RETRY_AFTER_MS.poolExhausted, error);
    }
    if (code === '57014' || message === 'Query read timeout') {
      return new DbQueryTimeoutException(context.queryTimeoutMs, RETRY_AFTER_MS.queryTimeout, error);
    }
    if (
      isUnavailableSqlState(code) ||
      UNAVAILABLE_ERRNOS.has(code) ||
      message.startsWith('Connection terminated') ||
      // "Client has encountered a connection error and is not queryable", "Client was closed and is not queryable"
      message.includes('is not queryable') ||
      message === 'Cannot use a pool after calling end on the pool'
    ) {
      return new DbUnavailableException(RETRY_AFTER_MS.unavailable, error);
    }
  }
  return error;
}
