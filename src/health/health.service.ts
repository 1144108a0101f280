import { Inject, Injectable, ServiceUnavailableException } from '@nestjs/common';
import {
  type HealthCheckResult,
  HealthCheckService,
  type HealthCheckStatus,
  type HealthIndicatorFunction,
} from '@nestjs/terminus';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '../observability/observability.tokens.js';
import { BreakerHealthIndicator } from './breaker.health.js';
import { DatabaseHealthIndicator } from './database.health.js';
import { DirectoryHealthIndicator } from './directory.health.js';
import { EventLoopHealthIndicator } from './event-loop.health.js';
import { HealthCheckFailedException } from './health-check-failed.exception.js';
import { LifecycleHealthIndicator } from './lifecycle.health.js';
import { PoolsHealthIndicator } from './pools.health.js';
import { RedisHealthIndicator } from './redis.health.js';
import { type ResilienceBlock, ResilienceDiagnostics } from './resilience-diagnostics.js';
import { WorkerHealthIndicator } from './worker.health.js';

export type HealthPayload = HealthCheckResult & { resilience?: ResilienceBlock };
type Endpoint = 'live' | 'ready' | 'health' | 'deep';

/**
 * Composes the four health answers from indicators and runs them through Terminus.
 * Memoisation lives in the I/O indicators (Terminus `cacheFor`), not here: in-process facts
 * (draining, breaker, pools, lag) are read fresh on every call, so a cached `ok` can never
 * hide that shutdown started or the breaker opened.
 */
@Injectable()
export class HealthService {
  private readonly lastStatus = new Map<Endpoint, HealthCheckStatus>();

  constructor(
    private readonly terminus: HealthCheckService,
    private readonly lifecycle: LifecycleHealthIndicator,
    private readonly database: DatabaseHealthIndicator,
    private readonly redis: RedisHealthIndicator,
    private readonly eventLoop: EventLoopHealthIndicator,
    private readonly breaker: BreakerHealthIndicator,
    private readonly pools: PoolsHealthIndicator,
    private readonly worker: WorkerHealthIndicator,
    private readonly directory: DirectoryHealthIndicator,
    private readonly diagnostics: ResilienceDiagnostics,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
  ) {}

  /** The process only: never PostgreSQL or Redis, and still 200 while draining. */
  live(): Promise<HealthPayload> {
    return this.run('live', [() => this.eventLoop.check('down')], { drainAware: false, resilience: false });
  }

  ready(): Promise<HealthPayload> {
    return this.run('ready', this.dependencies(), { drainAware: true, resilience: false });
  }

  summary(): Promise<HealthPayload> {
    return this.run('health', [...this.dependencies(), () => this.breaker.check('summary')], { drainAware: true, resilience: true });
  }

  deep(): Promise<HealthPayload> {
    return this.run(
      'deep',
      [
        ...this.dependencies(),
        () => this.breaker.check('full'),
        () => this.pools.main(),
        () => this.pools.health(),
        () => this.eventLoop.check('degraded'),
        () => this.worker.check(),
        // Deep only: a directory outage must never fail readiness (local sign-in still works).
        ...(this.directory.configured && !this.lifecycle.draining ? [() => this.directory.check()] : []),
      ],
      { drainAware: true, resilience: true },
    );
  }

  /** While draining nothing is pinged: the answer is settled, and the pools are about to close. */
  private dependencies(): HealthIndicatorFunction[] {
    const checks: HealthIndicatorFunction[] = [() => this.lifecycle.check()];
    if (this.lifecycle.draining) return checks;
    checks.push(this.database.ping());
    if (this.redis.configured) checks.push(this.redis.ping());
    return checks;
  }

  private async run(
    endpoint: Endpoint,
    indicators: HealthIndicatorFunction[],
    options: { drainAware: boolean; resilience: boolean },
  ): Promise<HealthPayload> {
    let result: HealthCheckResult;
    let failed = false;
    try {
      result = await this.terminus.check(indicators);
    } catch (error) {
      // Terminus answers `error` (and its own `shutting_down`) by throwing its result.
      const response = error instanceof ServiceUnavailableException ? error.getResponse() : null;
      if (!isHealthCheckResult(response)) throw error;
      result = response;
      failed = true;
    }
    // Terminus only learns of shutdown from Nest's own hook, which runs after our registry has
    // drained HTTP; the registry is the truth from the first moment, also if it flipped mid-check.
    if (options.drainAware && this.lifecycle.draining) {
      result = { ...result, status: 'shutting_down' };
      failed = true;
    }
    const payload: HealthPayload = options.resilience ? { ...result, resilience: this.diagnostics.build() } : result;
    this.noteStatus(endpoint, payload);
    if (failed) throw new HealthCheckFailedException(payload);
    return payload;
  }

  /** One log line per change of an endpoint's status, not one per probe. */
  private noteStatus(endpoint: Endpoint, payload: HealthPayload): void {
    const previous = this.lastStatus.get(endpoint) ?? 'ok';
    if (previous === payload.status) return;
    this.lastStatus.set(endpoint, payload.status);
    const failing = Object.keys(payload.error ?? {});
    const fields = { endpoint, from: previous, to: payload.status, failing };
    if (payload.status === 'error') this.logger.warn(fields, `health ${endpoint}: ${previous} -> error`);
    else this.logger.info(fields, `health ${endpoint}: ${previous} -> ${payload.status}`);
  }
}

function isHealthCheckResult(value: unknown): value is HealthCheckResult {
  return typeof value === 'object' && value !== null && 'status' in value && 'details' in value;
}
