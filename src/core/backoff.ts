/**
 * Capped exponential backoff with full jitter: the one implementation for everything that
 * retries (crashed workers, reconnecting clients). Lives in core so any feature may use it.
 */

/** Exponent cap: beyond this 2^n overflows any sane maximum anyway. */
const MAX_EXPONENT = 30;

/** The upper bound of the delay for the given attempt (0 for the first). */
export function backoffCeilingMs(attempt: number, baseMs: number, maxMs: number): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), MAX_EXPONENT);
  return Math.min(maxMs, baseMs * 2 ** exponent);
}

/**
 * Full jitter (uniform in [0, ceiling)): spreads simultaneous retries of several workers
 * so they do not all hit a struggling dependency at the same instant.
 */
export function fullJitterDelayMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = backoffCeilingMs(attempt, baseMs, maxMs);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(r * ceiling);
}
