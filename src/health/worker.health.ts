import { Injectable } from '@nestjs/common';
import { type HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { HEALTH_KEYS } from './health.constants.js';

/** Which process answered; cluster membership joins once the supervisor is integrated. */
@Injectable()
export class WorkerHealthIndicator {
  constructor(private readonly indicators: HealthIndicatorService) {}

  check(): HealthIndicatorResult<typeof HEALTH_KEYS.worker> {
    return this.indicators.check(HEALTH_KEYS.worker).up({
      pid: process.pid,
      uptimeS: Math.round(process.uptime()),
      cluster: null,
    });
  }
}
