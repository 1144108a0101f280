import { ServiceUnavailableException } from '@nestjs/common';
import type { HealthPayload } from './health.service.js';

/** A health answer that is 503 (`error` or `shutting_down`); its body is the payload itself. */
export class HealthCheckFailedException extends ServiceUnavailableException {
  constructor(readonly payload: HealthPayload) {
    super(payload);
  }
}
