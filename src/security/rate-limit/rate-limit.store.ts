import type { ThrottlerStorage } from '@nestjs/throttler';

/** @nestjs/throttler's `ThrottlerStorageRecord`, which its package index does not export. */
export type RateLimitRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * Counter storage for @nestjs/throttler with O(1) work per request: a fixed-window counter
 * per key. When a key first goes over its limit it is refused for `blockDuration` (at least
 * to the end of its window); refused requests are counted but never restore the budget.
 *
 * Units follow @nestjs/throttler: `ttl` and `blockDuration` in milliseconds in, `timeToExpire`
 * and `timeToBlockExpire` in whole seconds (rounded up) out.
 */
export abstract class RateLimitStore implements ThrottlerStorage {
  abstract increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<RateLimitRecord>;
}

/** The record both stores return for `hits` in a window that ends in `remainingMs`. */
export function toRecord(hits: number, limit: number, remainingMs: number): RateLimitRecord {
  const seconds = Math.max(1, Math.ceil(remainingMs / 1000));
  const isBlocked = hits > limit;
  return { totalHits: hits, timeToExpire: seconds, isBlocked, timeToBlockExpire: isBlocked ? seconds : 0 };
}
