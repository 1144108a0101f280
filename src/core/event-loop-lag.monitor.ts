import { performance } from 'node:perf_hooks';

export interface EventLoopLag {
  /**
   * Mean delay per sampler tick over the window, a stall still in progress counting as one
   * tick. Sustained lag moves it; a single GC pause or a moment of CPU starvation does not,
   * so a liveness probe built on it restarts wedged workers, not merely busy ones.
   */
  lagMs: number;
  /** Worst single delay in the window, for diagnosis. */
  maxLagMs: number;
  windowMs: number;
}

export interface EventLoopLagMonitorOptions {
  intervalMs?: number;
  windowMs?: number;
  now?: () => number;
}

/**
 * Event-loop lag as a timer-drift sampler. `monitorEventLoopDelay` was the first choice, but
 * a windowed reading needs `reset()`, and the sample spanning a reset is dropped: a block
 * that starts right after one is never seen. Drift of our own interval has no such gap, and
 * the time since the last tick also shows a stall that has not ended yet.
 */
export class EventLoopLagMonitor {
  private readonly intervalMs: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly samples: { at: number; driftMs: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastTick = 0;

  constructor(options: EventLoopLagMonitorOptions = {}) {
    this.intervalMs = options.intervalMs ?? 50;
    this.windowMs = options.windowMs ?? 2000;
    this.now = options.now ?? (() => performance.now());
  }

  start(): void {
    if (this.timer) return;
    this.lastTick = this.now();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    // Liveness sampling must never be what keeps a finished process alive.
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * `windowMs` narrows the reading to the most recent part of the window: liveness wants the
   * steady 2 s view, admission control a quick one so it sheds within a few hundred ms.
   */
  current(windowMs = this.windowMs): EventLoopLag {
    const now = this.now();
    this.prune(now);
    const from = now - Math.min(windowMs, this.windowMs);
    const drifts = this.samples.filter((sample) => sample.at > from).map((sample) => sample.driftMs);
    const pending = this.timer ? now - this.lastTick - this.intervalMs : 0;
    if (pending > 0) drifts.push(pending);
    const total = drifts.reduce((sum, drift) => sum + drift, 0);
    return {
      lagMs: round(drifts.length === 0 ? 0 : total / drifts.length),
      maxLagMs: round(Math.max(0, ...drifts)),
      windowMs: Math.min(windowMs, this.windowMs),
    };
  }

  private tick(): void {
    const now = this.now();
    this.samples.push({ at: now, driftMs: Math.max(0, now - this.lastTick - this.intervalMs) });
    this.lastTick = now;
    this.prune(now);
  }

  private prune(now: number): void {
    while (this.samples.length > 0 && now - (this.samples[0]?.at ?? now) > this.windowMs) this.samples.shift();
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
