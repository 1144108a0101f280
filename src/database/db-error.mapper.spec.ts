import { describe, expect, it } from 'vitest';
import {
  DbPoolExhaustedException,
  DbQueryTimeoutException,
  DbUnavailableException,
} from '../core/errors/index.js';
import { isUnavailableSqlState, mapDbError, RETRY_AFTER_MS } from './db-error.mapper.js';

const context = { poolTimeoutMs: 2000, queryTimeoutMs: 5000 };
const pgError = (code: string, message = 'server said no') => Object.assign(new Error(message), { code, severity: 'ERROR' });

describe('mapDbError', () => {
  it.each([
    ['53100', 'disk_full'],
    ['53200', 'out_of_memory'],
    ['53300', 'too_many_connections'],
    ['53400', 'configuration_limit_exceeded'],
    ['53000', 'insufficient_resources'],
    ['08000', 'connection_exception'],
    ['08006', 'connection_failure'],
    ['08P01', 'protocol_violation'],
    ['57P01', 'admin_shutdown'],
    ['57P02', 'crash_shutdown'],
    ['57P03', 'cannot_connect_now'],
  ])('maps SQLSTATE %s (%s) to a retryable 503 DB_UNAVAILABLE', (code) => {
    const original = pgError(code);
    const mapped = mapDbError(original, context);
    expect(mapped).toBeInstanceOf(DbUnavailableException);
    const exception = mapped as DbUnavailableException;
    expect(exception.status).toBe(503);
    expect(exception.code).toBe('DB_UNAVAILABLE');
    expect(exception.retryable).toBe(true);
    expect(exception.retryAfterMs).toBe(RETRY_AFTER_MS.unavailable);
  });

  it('finds the SQLSTATE behind a TypeORM wrapper', () => {
    const wrapped = Object.assign(new Error('QueryFailedError'), { driverError: pgError('53100', 'could not extend file') });
    expect(mapDbError(wrapped, context)).toBeInstanceOf(DbUnavailableException);
  });

  it.each([
    ['ECONNRESET', 'read ECONNRESET'],
    ['ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'],
    ['', 'Connection terminated unexpectedly'],
    ['', 'Connection terminated due to connection timeout'],
    ['', 'Client has encountered a connection error and is not queryable'],
    ['', 'Client was closed and is not queryable'],
  ])('maps a broken link (%s %s) to DB_UNAVAILABLE', (code, message) => {
    const error = code ? Object.assign(new Error(message), { code }) : new Error(message);
    expect(mapDbError(error, context)).toBeInstanceOf(DbUnavailableException);
  });

  it('keeps timeouts and a full pool apart from unavailability', () => {
    expect(mapDbError(pgError('57014', 'canceling statement due to statement timeout'), context)).toBeInstanceOf(DbQueryTimeoutException);
    expect(mapDbError(new Error('Query read timeout'), context)).toBeInstanceOf(DbQueryTimeoutException);
    expect(mapDbError(new Error('timeout exceeded when trying to connect'), context)).toBeInstanceOf(DbPoolExhaustedException);
  });

  it.each([
    ['23505', 'unique_violation'],
    ['42P01', 'undefined_table'],
    ['22P02', 'invalid_text_representation'],
    ['57P04', 'database_dropped'],
  ])('leaves the statement-level SQLSTATE %s (%s) to the caller', (code) => {
    const original = pgError(code);
    expect(mapDbError(original, context)).toBe(original);
  });
});

describe('isUnavailableSqlState', () => {
  it('takes whole classes 08 and 53 but only 57P01-57P03 of class 57', () => {
    expect(isUnavailableSqlState('53999')).toBe(true);
    expect(isUnavailableSqlState('08999')).toBe(true);
    expect(isUnavailableSqlState('57000')).toBe(false);
    expect(isUnavailableSqlState('57014')).toBe(false);
    expect(isUnavailableSqlState('ECONNRESET')).toBe(false);
    expect(isUnavailableSqlState('')).toBe(false);
  });
});
