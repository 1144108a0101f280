import { Injectable } from '@nestjs/common';
import { type HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { PoolManager } from '../database/pool-manager.js';
import { HealthDatabase } from './health-database.js';
import { HEALTH_KEYS } from './health.constants.js';

/**
 * Pool counters for `/health/deep`. Always `up`: a busy pool is what the `resilience`
 * recommendation is for, not a failed dependency.
 */
@Injectable()
export class PoolsHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly mainPool: PoolManager,
    private readonly healthDatabase: HealthDatabase,
  ) {}

  main(): HealthIndicatorResult<typeof HEALTH_KEYS.mainPool> {
    return this.indicators.check(HEALTH_KEYS.mainPool).up({ ...this.mainPool.stats() });
  }

  health(): HealthIndicatorResult<typeof HEALTH_KEYS.healthPool> {
    return this.indicators.check(HEALTH_KEYS.healthPool).up({ ...this.healthDatabase.stats(), pings: this.healthDatabase.pings });
  }
}
