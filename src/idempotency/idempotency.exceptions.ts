import { AppException, ErrorCode } from '../core/errors/index.js';

export class IdempotencyKeyMismatchException extends AppException {
  constructor() {
    super(ErrorCode.IDEMPOTENCY_KEY_MISMATCH, 'This Idempotency-Key was already used with a different request; use a new key for a new request');
  }
}

export class IdempotencyInProgressException extends AppException {
  constructor(retryAfterMs: number) {
    super(ErrorCode.IDEMPOTENCY_IN_PROGRESS, 'A request with this Idempotency-Key is still being processed; retry shortly', {
      retryable: true,
      retryAfterMs,
    });
  }
}
