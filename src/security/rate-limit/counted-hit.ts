import type { RateLimitRecord } from './rate-limit.store.js';

const HIT = Symbol('rampart.account-hit');

/** The per-account hit of one request, counted ahead of the guard. */
export interface CountedHit {
  userId: number;
  record: RateLimitRecord;
}

type WithHit = object & { [HIT]?: CountedHit };

/**
 * Hands a hit on the per-account budget from whoever counted it (the session read, which does
 * it in the same Redis round trip) to AccountRateLimitGuard, which then answers for it instead
 * of counting the request a second time.
 */
export function recordCountedHit(req: object, hit: CountedHit): void {
  (req as WithHit)[HIT] = hit;
}

/** The hit counted for this request and this user, if any; taken at most once. */
export function takeCountedHit(req: object, userId: number): RateLimitRecord | null {
  const hit = (req as WithHit)[HIT];
  if (hit === undefined) return null;
  (req as WithHit)[HIT] = undefined;
  return hit.userId === userId ? hit.record : null;
}
