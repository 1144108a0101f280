/**
 * Crash-restart backoff: capped exponential with full jitter, driven by a crash count that decays
 * by time window rather than being reset by a long-lived worker. A service that crashes every
 * twenty minutes after a long uptime is still crash-looping; resetting on uptime would restart it
 * at base delay forever.
 */

/** Exponent cap: beyond this 2^n overflows any sane maximum anyway. */
const MAX_EXPONENT = 30;

/** The upper bound of the delay for the given attempt (0 for the first crash in the window). */
export function backoffCeilingMs(attempt: number, baseMs: number, maxMs: number): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), MAX_EXPONENT);
  return Math.min(maxMs, baseMs * 2 ** exponent);
}

/**
 * Full jitter (uniform in [0, ceiling)): spreads simultaneous crashes of several workers
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

/** Crash timestamps in a bounded ring; the count that matters is the one inside the window. */
export class CrashCounter {
  readonly windowS: number;
  readonly capacity: number;
  private readonly times: number[] = [];

  constructor(windowS: number, capacity = 100) {
    this.windowS = windowS;
    this.capacity = capacity;
  }

  record(at: number): void {
    this.times.push(at);
    if (this.times.length > this.capacity) this.times.splice(0, this.times.length - this.capacity);
  }

  countInWindow(now: number): number {
    const from = now - this.windowS * 1000;
    return this.times.filter((at) => at > from).length;
  }

  /** Backoff attempt number for the next restart: crashes in the window minus one. */
  attempt(now: number): number {
    return Math.max(0, this.countInWindow(now) - 1);
  }
}
