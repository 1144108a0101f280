export interface AdaptiveLimitOptions {
  initial: number;
  min: number;
  max: number;
  /** Mean latency may grow to this multiple of the no-load latency before the limit shrinks. */
  tolerance?: number;
  /** Weight of each window's verdict; small values keep one noisy window from swinging the limit. */
  smoothing?: number;
}

/** What one measurement window saw. */
export interface LimitWindow {
  /** Mean service time of the requests that finished in the window; null when none did. */
  meanRttMs: number | null;
  /** Most requests in flight at once during the window. */
  peakInFlight: number;
  /** Event-loop lag over the shedding threshold: the worker is falling behind whatever latency says. */
  lagging: boolean;
  /** Requests waited long for a database connection: more concurrency would only queue there. */
  poolWaiting: boolean;
  /**
   * The worker's event loop was busy nearly all the window: more concurrency only lengthens
   * every request. Without this (or `poolWaiting`) slower answers are not ours to fix: a slow
   * query, or a machine starved by others; refusing then only turns waits into errors, and a
   * population of users waiting for their own answers (a closed loop) cannot overload us.
   */
  saturated: boolean;
}

/**
 * A gradient concurrency limit (after Netflix's Gradient2): each window compares the mean
 * service time with the no-load service time and scales the limit by their ratio, plus a
 * square-root headroom so it can grow when latency is fine. It only moves while the limit is
 * actually in use (half of it or more in flight): an idle worker learns nothing about its
 * capacity, and a handful of slow requests must not shrink the limit of a quiet one. It shrinks
 * only on evidence that concurrency is the problem: a saturated event loop, or requests waiting
 * for a database connection.
 */
export class AdaptiveLimit {
  private value: number;
  private noLoadRttMs: number | null = null;
  private readonly tolerance: number;
  private readonly smoothing: number;
  /**
   * Connections the request pool can open. Pool waits alone never shrink the limit below it:
   * with a connection free for every admitted request, waits come from elsewhere.
   */
  poolConnections = 0;

  constructor(private readonly options: AdaptiveLimitOptions) {
    this.value = options.initial;
    this.tolerance = options.tolerance ?? 2;
    this.smoothing = options.smoothing ?? 0.2;
  }

  get limit(): number {
    return Math.max(1, Math.floor(this.value));
  }

  get noLoadRtt(): number | null {
    return this.noLoadRttMs;
  }

  update(window: LimitWindow): number {
    const { min, max } = this.options;
    if (window.lagging) {
      // Below the latency floor on purpose (down to half of it): a lagging loop delays every
      // request, admitted or not, and only fewer requests give it the time back; not to one,
      // which would trade the goodput the limit exists to keep for the refusals' share of CPU.
      this.value = Math.max(Math.max(1, Math.floor(min / 2)), this.value * 0.7);
      return this.limit;
    }
    if (this.value < min) this.value = min;
    if (window.meanRttMs === null) return this.limit;
    if (this.noLoadRttMs === null || window.meanRttMs < this.noLoadRttMs) this.noLoadRttMs = window.meanRttMs;
    // Drifts up slowly (~1 min), so a worker that got slower for good (bigger data, slower
    // disk) does not keep its limit pinned to the floor forever.
    else this.noLoadRttMs += (window.meanRttMs - this.noLoadRttMs) * 0.002;
    if (window.peakInFlight < this.value / 2) return this.limit;
    let gradient = Math.min(1, Math.max(0.5, (this.tolerance * this.noLoadRttMs) / window.meanRttMs));
    if (window.poolWaiting) gradient = Math.min(gradient, 0.8);
    // Latency alone shrinks the limit only on a saturated worker (see `saturated`).
    else if (gradient < 1 && !window.saturated) return this.limit;
    const target = this.value * gradient + (gradient >= 1 ? Math.sqrt(this.value) : 0);
    const floor = window.saturated ? min : Math.min(this.value, Math.max(min, this.poolConnections));
    this.value = Math.min(max, Math.max(floor, this.value * (1 - this.smoothing) + target * this.smoothing));
    return this.limit;
  }
}
