import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { type HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { DIRECTORY, type DirectorySignIn } from '../auth/directory/directory-sign-in.js';
import type { RampartConfig } from '../config/rampart-config.js';
import { HEALTH_KEYS } from './health.constants.js';

/**
 * The sign-in directory, on /health/deep only: never readiness, because a directory outage
 * must not take Rampart out of the load balancer (local accounts still sign in, sessions go
 * on). Unreachable or an open breaker is `degraded` (HTTP 200), like the database breaker.
 * The payload names no host, DN or account.
 */
type Result = HealthIndicatorResult<typeof HEALTH_KEYS.directory>;

@Injectable()
export class DirectoryHealthIndicator {
  private readonly timeoutMs: number;
  private readonly cacheMs: number;
  /** HEALTH_CACHE_MS memo, so a monitor polling /health/deep does not open a connection per poll. */
  private last: { at: number; result: Promise<Result> } | null = null;

  constructor(
    private readonly indicators: HealthIndicatorService,
    @Inject(DIRECTORY) private readonly directory: DirectorySignIn | null,
    config: ConfigService<RampartConfig, true>,
  ) {
    ({ dbTimeoutMs: this.timeoutMs, cacheMs: this.cacheMs } = config.get('health', { infer: true }));
  }

  get configured(): boolean {
    return this.directory !== null;
  }

  check(): Promise<Result> {
    const now = Date.now();
    if (this.last !== null && now - this.last.at < this.cacheMs) return this.last.result;
    const result = this.probe();
    this.last = { at: now, result };
    return result;
  }

  private async probe(): Promise<Result> {
    const session = this.indicators.check(HEALTH_KEYS.directory);
    if (this.directory === null) return session.up({ configured: false });
    const { state, retryAfterMs } = this.directory.snapshot();
    const reachable = await withTimeout(this.directory.ping(), this.timeoutMs).then(
      () => true,
      () => false,
    );
    const data = { reachable, breaker: state, retryAfterMs };
    return reachable && state === 'closed' ? session.up(data) : session.degraded(data);
  }
}

/** Rejects after `ms`; the ping itself ends by the directory client's own timeouts. */
function withTimeout(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('directory ping timed out')), ms);
  });
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
