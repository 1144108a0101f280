import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { type HealthCheckAttempt, HealthIndicatorService } from '@nestjs/terminus';
import type { Redis } from 'ioredis';
import type { RampartConfig } from '../config/rampart-config.js';
import { REDIS_CLIENT } from '../redis/redis.tokens.js';
import { HealthProbeError } from './health-database.js';
import { HEALTH_KEYS } from './health.constants.js';
import { memoised, safeProbe } from './probe.js';

const REDIS_UNREACHABLE = 'redis unreachable';

/** Redis reachability on the shared client, when Redis is configured. */
@Injectable()
export class RedisHealthIndicator {
  private readonly timeoutMs: number;
  private readonly cacheMs: number;

  constructor(
    private readonly indicators: HealthIndicatorService,
    @Inject(REDIS_CLIENT) private readonly redis: Redis | null,
    config: ConfigService<RampartConfig, true>,
  ) {
    // No separate setting: HEALTH_DB_TIMEOUT_MS bounds every dependency ping of a probe.
    ({ dbTimeoutMs: this.timeoutMs, cacheMs: this.cacheMs } = config.get('health', { infer: true }));
  }

  /** False in single-instance mode, where Redis is not a dependency at all. */
  get configured(): boolean {
    return this.redis !== null;
  }

  ping(): HealthCheckAttempt<typeof HEALTH_KEYS.redis> {
    const redis = this.redis;
    const attempt = this.indicators.check(HEALTH_KEYS.redis).attempt(() =>
      safeProbe(REDIS_UNREACHABLE, async () => {
        // The client has no offline queue, so while reconnecting a command fails anyway;
        // checking first keeps the answer immediate and its text fixed.
        if (redis === null || redis.status !== 'ready') throw new HealthProbeError('redis not connected');
        await redis.ping();
      }),
    );
    return memoised(attempt.withTimeout(this.timeoutMs), this.cacheMs);
  }
}
