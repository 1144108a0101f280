import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { type HealthCheckAttempt, HealthIndicatorService } from '@nestjs/terminus';
import type { RampartConfig } from '../config/rampart-config.js';
import { HealthDatabase, PROBE_MESSAGES } from './health-database.js';
import { HEALTH_KEYS } from './health.constants.js';
import { memoised, safeProbe } from './probe.js';

/** PostgreSQL reachability through the isolated health pool, bounded and memoised. */
@Injectable()
export class DatabaseHealthIndicator {
  private readonly timeoutMs: number;
  private readonly cacheMs: number;

  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly database: HealthDatabase,
    config: ConfigService<RampartConfig, true>,
  ) {
    ({ dbTimeoutMs: this.timeoutMs, cacheMs: this.cacheMs } = config.get('health', { infer: true }));
  }

  ping(): HealthCheckAttempt<typeof HEALTH_KEYS.database> {
    const attempt = this.indicators
      .check(HEALTH_KEYS.database)
      .attempt(({ signal }) => safeProbe(PROBE_MESSAGES.dbUnreachable, () => this.database.ping(signal)))
      // Terminus stops waiting here; the abort signal makes the health pool drop the connection.
      .withTimeout(this.timeoutMs);
    return memoised(attempt, this.cacheMs);
  }
}
