import { describe, expect, it } from 'vitest';
import { AdaptiveLimit } from './adaptive-limit.js';

describe('AdaptiveLimit', () => {
  const calm = { lagging: false, poolWaiting: false, saturated: true };

  it('shrinks towards the floor when latency grows past the tolerance, and grows back when it recovers', () => {
    const limit = new AdaptiveLimit({ initial: 40, min: 4, max: 100 });
    limit.update({ ...calm, meanRttMs: 2, peakInFlight: 40 });
    for (let i = 0; i < 50; i += 1) limit.update({ ...calm, meanRttMs: 20, peakInFlight: limit.limit });
    expect(limit.limit).toBe(4);
    for (let i = 0; i < 100; i += 1) limit.update({ ...calm, meanRttMs: 2, peakInFlight: limit.limit });
    expect(limit.limit).toBeGreaterThan(20);
  });

  it('shrinks while requests wait for a database connection even when latency looks fine, so the excess is refused at the door instead of waiting in the pool', () => {
    const limit = new AdaptiveLimit({ initial: 40, min: 4, max: 100 });
    limit.poolConnections = 15;
    for (let i = 0; i < 30; i += 1) limit.update({ lagging: false, poolWaiting: true, saturated: false, meanRttMs: 2, peakInFlight: limit.limit });
    expect(limit.limit).toBeLessThan(20);
    // Not below the pool's own connections: each admitted request could then have one.
    for (let i = 0; i < 30; i += 1) limit.update({ lagging: false, poolWaiting: true, saturated: false, meanRttMs: 2, peakInFlight: limit.limit });
    expect(limit.limit).toBe(15);
  });

  it('holds while latency grows on a worker whose event loop has time to spare (a slow database, a starved machine, users waiting for their answers)', () => {
    const limit = new AdaptiveLimit({ initial: 64, min: 8, max: 512 });
    limit.update({ ...calm, meanRttMs: 2, peakInFlight: 64 });
    const before = limit.limit;
    for (let i = 0; i < 50; i += 1) limit.update({ ...calm, saturated: false, meanRttMs: 200, peakInFlight: limit.limit });
    expect(limit.limit).toBe(before);
    for (let i = 0; i < 50; i += 1) limit.update({ ...calm, meanRttMs: 200, peakInFlight: limit.limit });
    expect(limit.limit).toBe(8);
  });

  it('does not move while the limit is not in use', () => {
    const limit = new AdaptiveLimit({ initial: 40, min: 4, max: 100 });
    limit.update({ ...calm, meanRttMs: 2, peakInFlight: 5 });
    for (let i = 0; i < 20; i += 1) limit.update({ ...calm, meanRttMs: 500, peakInFlight: 5 });
    expect(limit.limit).toBe(40);
  });

  it('cuts below the floor while the event loop lags, and returns to the floor after', () => {
    const limit = new AdaptiveLimit({ initial: 8, min: 8, max: 8 });
    for (let i = 0; i < 10; i += 1) limit.update({ meanRttMs: 2, peakInFlight: 8, lagging: true, poolWaiting: false, saturated: true });
    expect(limit.limit).toBe(4);
    limit.update({ ...calm, meanRttMs: 2, peakInFlight: 1 });
    expect(limit.limit).toBe(8);
  });
});
