import { describe, expect, it } from 'vitest';
import { MemoryRateLimitStore } from './memory-rate-limit.store.js';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe(MemoryRateLimitStore.name, () => {
  it('counts hits in a fixed window and blocks past the limit until the block ends', async () => {
    const time = clock();
    const store = new MemoryRateLimitStore({ now: time.now });
    for (let i = 1; i <= 3; i += 1) {
      const record = await store.increment('k', 60_000, 3, 60_000, 'login');
      expect(record).toMatchObject({ totalHits: i, isBlocked: false, timeToBlockExpire: 0, timeToExpire: 60 });
    }
    time.advance(10_000);
    const over = await store.increment('k', 60_000, 3, 60_000, 'login');
    // The block runs a full blockDuration from the hit that crossed the limit.
    expect(over).toMatchObject({ totalHits: 4, isBlocked: true, timeToBlockExpire: 60 });
    time.advance(30_000);
    expect(await store.increment('k', 60_000, 3, 60_000, 'login')).toMatchObject({ isBlocked: true, timeToBlockExpire: 30 });
    time.advance(30_000);
    expect(await store.increment('k', 60_000, 3, 60_000, 'login')).toMatchObject({ totalHits: 1, isBlocked: false });
  });

  it('keeps keys apart', async () => {
    const store = new MemoryRateLimitStore();
    await store.increment('a', 60_000, 1, 60_000, 'login');
    expect((await store.increment('b', 60_000, 1, 60_000, 'login')).isBlocked).toBe(false);
    expect((await store.increment('a', 60_000, 1, 60_000, 'login')).isBlocked).toBe(true);
  });

  it('evicts expired keys incrementally, without a timer', async () => {
    const time = clock();
    const store = new MemoryRateLimitStore({ now: time.now });
    for (let i = 0; i < 1000; i += 1) await store.increment(`old-${i}`, 1000, 10, 1000, 'login');
    expect(store.size).toBe(1000);
    time.advance(2000);
    for (let i = 0; i < 600; i += 1) await store.increment('busy', 60_000, 1_000_000, 60_000, 'account');
    expect(store.size).toBe(1);
  });

  it('never holds more than maxKeys keys', async () => {
    const store = new MemoryRateLimitStore({ maxKeys: 100 });
    for (let i = 0; i < 1000; i += 1) await store.increment(`ip-${i}`, 60_000, 10, 60_000, 'login');
    expect(store.size).toBe(100);
  });

  it('costs the same per hit however many hits a key has seen', async () => {
    const store = new MemoryRateLimitStore();
    const perHit = async (n: number) => {
      const started = process.hrtime.bigint();
      for (let i = 0; i < n; i += 1) await store.increment('hot', 60_000, 1e9, 60_000, 'account');
      return Number(process.hrtime.bigint() - started) / n;
    };
    // Best of a few rounds, so a GC pause or a busy CI core does not decide the outcome.
    const best = async () => Math.min(await perHit(10_000), await perHit(10_000), await perHit(10_000));
    const early = await best();
    await perHit(200_000);
    const late = await best();
    // @nestjs/throttler's default storage scans every stored hit: ~20x the hits, ~20x the cost.
    expect(late).toBeLessThan(early * 5);
  });
});
