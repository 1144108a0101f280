/**
 * Crash-restart backoff: capped exponential with full jitter, driven by a crash count that decays
 * by time window rather than being reset by a long-lived worker. A service that crashes every
 * twenty minutes after a long uptime is still crash-looping; resetting on uptime would restart it
 * at base delay forever.
 */

// The delay itself is core's (one backoff for every retry in the process); the crash
// counting that drives it is the supervisor's.
export { backoffCeilingMs, fullJitterDelayMs } from '../core/backoff.js';

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
