import type { ServerResponse } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '../../observability/observability.tokens.js';
import { appendListItem, limitItem, policyItem, RATE_LIMIT_HEADER, RATE_LIMIT_POLICY_HEADER } from './rate-limit.headers.js';
import { RateLimitMetrics } from './rate-limit.metrics.js';
import type { RatePolicy } from './rate-limit.policies.js';
import { RateLimitStore, type RateLimitRecord } from './rate-limit.store.js';
import { RateLimitedException } from './rate-limited.exception.js';

/** The store key of one subject's counter under one policy. */
export function counterKey(policy: Pick<RatePolicy, 'name'>, subject: string): string {
  return `${policy.name}:${subject}`;
}

/** At most one warning per this interval while the counter store is failing. */
const STORE_WARNING_INTERVAL_MS = 10_000;

/**
 * Counts one request against one policy for one subject (an IP or a user id), writes the
 * IETF RateLimit fields and refuses with RATE_LIMITED once the budget is spent. Shared by the
 * per-IP guard and the per-account guard so both speak the same headers and metric.
 */
@Injectable()
export class RateLimiter {
  private lastStoreWarningAt = 0;

  constructor(
    private readonly store: RateLimitStore,
    private readonly metrics: RateLimitMetrics,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
  ) {}

  async consume(policy: RatePolicy, subject: string, res: ServerResponse): Promise<void> {
    let record: RateLimitRecord;
    try {
      record = await this.store.increment(counterKey(policy, subject), policy.windowMs, policy.limit, policy.blockMs, policy.name);
    } catch (error) {
      // Fails open: the session store on the same Redis fails closed, so no login or
      // authenticated request gets through while Redis is down; refusing here as well would
      // only add errors to public routes such as /csp-report.
      this.storeFailed(error);
      return;
    }
    this.apply(policy, record, res);
  }

  /**
   * Answers for a hit already counted (`record`), e.g. by the session read that counted the
   * account in the same Redis round trip: the RateLimit fields, and RATE_LIMITED when over.
   */
  apply(policy: RatePolicy, record: RateLimitRecord, res: ServerResponse): void {
    appendListItem(res, RATE_LIMIT_POLICY_HEADER, policyItem(policy));
    if (record.isBlocked) {
      appendListItem(res, RATE_LIMIT_HEADER, limitItem(policy.name, 0, record.timeToBlockExpire));
      this.metrics.rejected(policy.name);
      throw new RateLimitedException(record.timeToBlockExpire * 1000);
    }
    appendListItem(res, RATE_LIMIT_HEADER, limitItem(policy.name, policy.limit - record.totalHits, record.timeToExpire));
  }

  /** Shared with the other users of the store (LoginFailureBudget): one metric, one throttled warning. */
  storeFailed(error: unknown): void {
    this.metrics.storeFailed();
    const now = Date.now();
    if (now - this.lastStoreWarningAt < STORE_WARNING_INTERVAL_MS) return;
    this.lastStoreWarningAt = now;
    this.logger.warn({ err: error }, 'rate-limit store unavailable; requests are not being counted');
  }
}
