import { describe, expect, it } from 'vitest';
import { backoffCeilingMs, CrashCounter, fullJitterDelayMs } from './backoff.js';

describe('crash backoff', () => {
  it('doubles the ceiling per attempt and caps it', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((attempt) => backoffCeilingMs(attempt, 500, 10_000))).toEqual([
      500, 1000, 2000, 4000, 8000, 10_000, 10_000,
    ]);
  });

  it('does not overflow for absurd attempts, and treats negative ones as the first', () => {
    expect(backoffCeilingMs(10_000, 500, 30_000)).toBe(30_000);
    expect(backoffCeilingMs(-3, 500, 30_000)).toBe(500);
  });

  it('draws uniformly below the ceiling (full jitter)', () => {
    expect(fullJitterDelayMs(3, 500, 10_000, () => 0)).toBe(0);
    expect(fullJitterDelayMs(3, 500, 10_000, () => 0.5)).toBe(2000);
    expect(fullJitterDelayMs(3, 500, 10_000, () => 0.999_999)).toBe(3999);
    expect(fullJitterDelayMs(9, 500, 10_000, () => 0.25)).toBe(2500);
  });

  it('clamps a misbehaving random source into [0, ceiling]', () => {
    expect(fullJitterDelayMs(0, 500, 10_000, () => 7)).toBe(500);
    expect(fullJitterDelayMs(0, 500, 10_000, () => -1)).toBe(0);
  });

  it('spreads delays over the whole range', () => {
    let seed = 42;
    const random = (): number => {
      // Deterministic LCG so the spread check is reproducible.
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const delays = Array.from({ length: 2000 }, () => fullJitterDelayMs(2, 1000, 60_000, random));
    expect(Math.min(...delays)).toBeLessThan(200);
    expect(Math.max(...delays)).toBeGreaterThan(3800);
    expect(delays.every((d) => d >= 0 && d < 4000)).toBe(true);
  });
});

describe('CrashCounter', () => {
  const T0 = 1_700_000_000_000;

  it('counts crashes within the window and derives the attempt from them', () => {
    const counter = new CrashCounter(600);
    expect(counter.attempt(T0)).toBe(0);
    counter.record(T0);
    expect(counter.attempt(T0)).toBe(0);
    counter.record(T0 + 1000);
    counter.record(T0 + 2000);
    expect(counter.countInWindow(T0 + 2000)).toBe(3);
    expect(counter.attempt(T0 + 2000)).toBe(2);
  });

  it('keeps counting crashes after a long uptime: only the window decays them', () => {
    const counter = new CrashCounter(3600);
    // A worker that lives 20 minutes between crashes is still crash-looping.
    counter.record(T0);
    counter.record(T0 + 20 * 60_000);
    counter.record(T0 + 40 * 60_000);
    expect(counter.attempt(T0 + 40 * 60_000)).toBe(2);
    // Only once a crash is older than the window does it stop counting.
    expect(counter.countInWindow(T0 + 60 * 60_000 + 1)).toBe(2);
    expect(counter.countInWindow(T0 + 100 * 60_000 + 1)).toBe(0);
  });

  it('is bounded', () => {
    const counter = new CrashCounter(600, 10);
    for (let i = 0; i < 50; i += 1) counter.record(T0 + i);
    expect(counter.countInWindow(T0 + 50)).toBe(10);
  });
});
