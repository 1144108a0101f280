import { Injectable } from '@nestjs/common';
import { type HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { ShutdownRegistry } from '../resilience/shutdown-registry.service.js';
import { HEALTH_KEYS } from './health.constants.js';

/** Down from the first moment of shutdown, so load balancers stop routing here at once. */
@Injectable()
export class LifecycleHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly registry: ShutdownRegistry,
  ) {}

  get draining(): boolean {
    return this.registry.draining;
  }

  check(): HealthIndicatorResult<typeof HEALTH_KEYS.lifecycle> {
    const session = this.indicators.check(HEALTH_KEYS.lifecycle);
    const state = this.registry.state;
    return this.registry.draining ? session.down({ state, message: 'shutting down' }) : session.up({ state });
  }
}
