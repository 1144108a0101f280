import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventLoopLagMonitor } from './event-loop-lag.monitor.js';

describe(EventLoopLagMonitor.name, () => {
  let clock = 0;
  let monitor: EventLoopLagMonitor;

  beforeEach(() => {
    vi.useFakeTimers();
    clock = 1000;
    monitor = new EventLoopLagMonitor({ intervalMs: 50, windowMs: 1000, now: () => clock });
    monitor.start();
  });
  afterEach(() => {
    monitor.stop();
    vi.useRealTimers();
  });

  /** Lets the interval fire `ticks` times, each `lateMs` after it was due. */
  function run(ticks: number, lateMs = 0) {
    for (let i = 0; i < ticks; i++) {
      clock += 50 + lateMs;
      vi.advanceTimersByTime(50);
    }
  }

  it('reports no lag while the sampler fires on time', () => {
    run(10);
    expect(monitor.current()).toMatchObject({ lagMs: 0, maxLagMs: 0 });
  });

  it('reports sustained lag as the mean delay per tick', () => {
    run(10, 300);
    expect(monitor.current()).toMatchObject({ lagMs: 300, maxLagMs: 300 });
  });

  it('shows a single block as the worst delay while it hardly moves the mean, and forgets it after the window', () => {
    run(9);
    run(1, 300);
    expect(monitor.current()).toMatchObject({ lagMs: 30, maxLagMs: 300 });
    run(21); // just over the 1000 ms window
    expect(monitor.current()).toMatchObject({ lagMs: 0, maxLagMs: 0 });
  });

  it('reads a recent part of the window on request, so a quick reader sees lag start and end sooner', () => {
    run(10, 100);
    run(4);
    expect(monitor.current().lagMs).toBeGreaterThan(20);
    expect(monitor.current(200)).toMatchObject({ lagMs: 0, windowMs: 200 });
    run(2, 100);
    expect(monitor.current(200).lagMs).toBeGreaterThanOrEqual(50);
  });

  it('counts a stall still in progress when read before the next tick', () => {
    run(3);
    clock += 450;
    expect(monitor.current()).toMatchObject({ lagMs: 100, maxLagMs: 400 });
  });

  it('stops sampling when stopped, so no timer outlives it', () => {
    monitor.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});
