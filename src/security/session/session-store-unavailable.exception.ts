import { AppException, ErrorCode } from '../../core/errors/index.js';

/**
 * Every refusal because the session store failed, counted in-process where it is decided
 * (the session middleware, the live stream, revocation all throw this); published as
 * `rampart_session_store_failures_total`.
 */
let failures = 0;
export function sessionStoreFailures(): number {
  return failures;
}

/** The session store could not be reached: requests fail closed, never as anonymous. */
export class SessionStoreUnavailableException extends AppException {
  constructor(cause?: unknown) {
    failures += 1;
    super(ErrorCode.SESSION_STORE_UNAVAILABLE, 'The session store is unavailable', {
      retryable: true,
      retryAfterMs: 2000,
      cause,
    });
  }
}
