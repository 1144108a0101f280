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

  /**
   * Makes an existing key live at least `ttlMs` from now (a longer block than the one
   * `increment` set). Returns the milliseconds it now has left, 0 when there is no such key.
   */
  abstract extend(key: string, ttlMs: number): Promise<number>;

  /**
   * Gives back one hit that turned out not to count (a login that succeeded), unless the key
   * is already over `limit`: a refund never lifts a block.
   */
  abstract refund(key: string, limit: number): Promise<void>;
}

/** The record both stores return for `hits` in a window that ends in `remainingMs`. */
export function toRecord(hits: number, limit: number, remainingMs: number): RateLimitRecord {
  const seconds = Math.max(1, Math.ceil(remainingMs / 1000));
  const isBlocked = hits > limit;
  return { totalHits: hits, timeToExpire: seconds, isBlocked, timeToBlockExpire: isBlocked ? seconds : 0 };
}
