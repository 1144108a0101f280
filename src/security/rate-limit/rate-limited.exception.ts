import { AppException, ErrorCode } from '../../core/errors/index.js';

/** 429 `RATE_LIMITED`; the filter turns `retryAfterMs` into `Retry-After`. */
export class RateLimitedException extends AppException {
  constructor(retryAfterMs: number) {
    super(ErrorCode.RATE_LIMITED, 'Too many requests; retry later', { retryable: true, retryAfterMs });
  }
}
