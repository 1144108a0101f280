import { ERROR_STATUS, ErrorCode } from './error-code.js';

export interface ErrorDetail {
  path: string;
  message: string;
}

export interface AppExceptionOptions {
  retryable?: boolean;
  /** Delay the client should wait before retrying; also sent as `Retry-After` (seconds, rounded up). */
  retryAfterMs?: number | null;
  details?: ErrorDetail[];
  cause?: unknown;
}

/**
 * Every error the API answers with is one of these (or is mapped to one by the global
 * filter), so the envelope of CONTRACT.md is produced in exactly one place.
 */
export class AppException extends Error {
  readonly status: number;
  readonly retryable: boolean;
  readonly retryAfterMs: number | null;
  readonly details: ErrorDetail[] | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: AppExceptionOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = ERROR_STATUS[code];
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs ?? null;
    this.details = options.details;
  }
}

export class ValidationFailedException extends AppException {
  constructor(details: ErrorDetail[], message = 'The request is not valid') {
    super(ErrorCode.VALIDATION_FAILED, message, { details });
  }
}

export class NotFoundException extends AppException {
  constructor(message = 'Not found') {
    super(ErrorCode.NOT_FOUND, message);
  }
}

export class UnauthenticatedException extends AppException {
  constructor(message = 'Authentication required') {
    super(ErrorCode.UNAUTHENTICATED, message);
  }
}

export class ForbiddenException extends AppException {
  constructor(message = 'Not allowed for this role') {
    super(ErrorCode.FORBIDDEN, message);
  }
}

export class ShuttingDownException extends AppException {
  constructor(retryAfterMs = 1000) {
    super(ErrorCode.SHUTTING_DOWN, 'The server is shutting down; retry on another instance', {
      retryable: true,
      retryAfterMs,
    });
  }
}

/** Admission control (or a bulkhead) refused the request before doing its work. */
export class OverloadedException extends AppException {
  constructor(retryAfterMs: number, message = 'The server is overloaded; retry later') {
    super(ErrorCode.OVERLOADED, message, { retryable: true, retryAfterMs });
  }
}

/**
 * The directory (LDAP/AD) could not be reached or did not answer in time, or its breaker is
 * open. Local accounts still sign in, so this is never an outage of Rampart itself.
 */
export class AuthProviderUnavailableException extends AppException {
  constructor(retryAfterMs: number, cause?: unknown) {
    super(ErrorCode.AUTH_PROVIDER_UNAVAILABLE, 'The sign-in directory is unavailable; retry later', { retryable: true, retryAfterMs, cause });
  }
}
