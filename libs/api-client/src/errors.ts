/**
 * The error codes of CONTRACT.md, in one list so the integration test can compare it with
 * the server's OpenAPI document.
 */
export const ERROR_CODES = [
  'VALIDATION_FAILED',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'CSRF_INVALID',
  'NOT_FOUND',
  'PAYLOAD_TOO_LARGE',
  'RATE_LIMITED',
  'DB_POOL_EXHAUSTED',
  'DB_CIRCUIT_OPEN',
  'DB_UNAVAILABLE',
  'DB_QUERY_TIMEOUT',
  'SHUTTING_DOWN',
  'SESSION_STORE_UNAVAILABLE',
  'UNSUPPORTED_MEDIA_TYPE',
  'RESTART_BLOCKED',
  'OVERLOADED',
  'IDEMPOTENCY_KEY_MISMATCH',
  'IDEMPOTENCY_IN_PROGRESS',
  'AUTH_PROVIDER_UNAVAILABLE',
  'INTERNAL',
] as const;

/** A code the server may put in the envelope. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * Codes only this client produces: the request never got an answer (`NETWORK_ERROR`), a
 * 2xx body that was not the JSON it claimed to be (`INVALID_RESPONSE`), or a non-2xx answer
 * without an envelope, e.g. a proxy's HTML 502 (`HTTP_<status>`).
 */
export type ClientErrorCode = 'NETWORK_ERROR' | 'INVALID_RESPONSE' | `HTTP_${number}`;

/**
 * `(string & {})` keeps editor completion for the known codes while admitting a code a newer
 * server sends that this build does not list yet.
 */
export type ApiErrorCode = ErrorCode | ClientErrorCode | (string & {});

export interface ErrorDetail {
  path: string;
  message: string;
}

/** The body of every non-2xx JSON response (CONTRACT.md, "Error envelope"). */
export interface ErrorEnvelope {
  error: {
    code: ErrorCode;
    message: string;
    retryable: boolean;
    retryAfterMs: number | null;
    correlationId: string;
    details?: ErrorDetail[];
  };
}

export function isErrorEnvelope(value: unknown): value is ErrorEnvelope {
  if (typeof value !== 'object' || value === null || !('error' in value)) return false;
  const error: unknown = value.error;
  return (
    typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    typeof error.code === 'string' &&
    'message' in error &&
    typeof error.message === 'string'
  );
}

export interface ApiErrorInit {
  code: ApiErrorCode;
  status: number;
  message: string;
  retryable: boolean;
  retryAfterMs?: number | null;
  correlationId?: string | null;
  details?: ErrorDetail[];
  cause?: unknown;
}

/**
 * Every failure the client reports, except an abort: an aborted call rejects with the
 * signal's reason so callers can tell "I cancelled it" from "it failed".
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly code: ApiErrorCode;
  /** HTTP status; 0 when no response arrived (`NETWORK_ERROR`). */
  readonly status: number;
  readonly retryable: boolean;
  readonly retryAfterMs: number | null;
  readonly correlationId: string | null;
  readonly details?: ErrorDetail[];

  constructor(init: ApiErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.status = init.status;
    this.retryable = init.retryable;
    this.retryAfterMs = init.retryAfterMs ?? null;
    this.correlationId = init.correlationId ?? null;
    if (init.details !== undefined) this.details = init.details;
  }

  /** fetch rejected: DNS, refused connection, CORS, connection reset. The server may never have seen it. */
  static network(cause: unknown): ApiError {
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new ApiError({
      code: 'NETWORK_ERROR',
      status: 0,
      message: `Network request failed: ${reason}`,
      retryable: true,
      cause,
    });
  }

  get isNetworkError(): boolean {
    return this.code === 'NETWORK_ERROR';
  }
}
