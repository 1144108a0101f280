import { AppException, ErrorCode } from '../../core/errors/index.js';

/** The session store could not be reached: requests fail closed, never as anonymous. */
export class SessionStoreUnavailableException extends AppException {
  constructor(cause?: unknown) {
    super(ErrorCode.SESSION_STORE_UNAVAILABLE, 'The session store is unavailable', {
      retryable: true,
      retryAfterMs: 2000,
      cause,
    });
  }
}
