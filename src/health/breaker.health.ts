import { Inject, Injectable } from '@nestjs/common';
import { type HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { BreakerService, MAIN_DB_BREAKER } from '../resilience/breaker.service.js';
import { HEALTH_KEYS } from './health.constants.js';

/**
 * The main-database breaker. Not open/half-open means `up`; otherwise `degraded`, never
 * `down`: the worker still serves what does not need the database, and failing probes
 * would only add restarts to an outage.
 */
@Injectable()
export class BreakerHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    @Inject(MAIN_DB_BREAKER) private readonly breaker: BreakerService,
  ) {}

  check(detail: 'summary' | 'full'): HealthIndicatorResult<typeof HEALTH_KEYS.breaker> {
    const session = this.indicators.check(HEALTH_KEYS.breaker);
    const snapshot = this.breaker.snapshot();
    const data = detail === 'full' ? { ...snapshot } : { state: snapshot.state };
    return snapshot.state === 'closed' ? session.up(data) : session.degraded(data);
  }
}
