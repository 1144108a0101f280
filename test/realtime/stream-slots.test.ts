import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStreamSlots, RedisStreamSlots } from '../../src/realtime/stream-slots.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../support/redis.js';

describe('live-stream slots per user', () => {
  let redis: Redis;
  const prefix = uniquePrefix();
  beforeAll(() => {
    redis = new Redis(SHARED_REDIS_URL);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('Redis: at most the limit at once; a release frees one; a slot whose holder died (no renewal) expires with its lease', async () => {
    let now = Date.now();
    const slots = new RedisStreamSlots(redis, prefix, 1000, () => now);
    for (const slot of ['a', 'b', 'c']) expect(await slots.acquire(7, slot, 3)).toBe(true);
    expect(await slots.acquire(7, 'd', 3)).toBe(false);
    expect(await slots.acquire(8, 'x', 3)).toBe(true);
    await slots.release(7, 'a');
    expect(await slots.acquire(7, 'd', 3)).toBe(true);
    // b and d are renewed by their (live) holder; c's holder died.
    now += 600;
    await slots.renew(7, ['b', 'd']);
    now += 600;
    expect(await slots.acquire(7, 'e', 3)).toBe(true);
    expect(await slots.acquire(7, 'f', 3)).toBe(false);
    // A released slot is not brought back by a late renewal.
    await slots.release(7, 'e');
    await slots.renew(7, ['e']);
    expect(await redis.zscore(slots.key(7), 'e')).toBeNull();
  });

  it('memory: at most the limit at once, per user', async () => {
    const slots = new MemoryStreamSlots();
    expect(await slots.acquire(1, 'a', 1)).toBe(true);
    expect(await slots.acquire(1, 'b', 1)).toBe(false);
    expect(await slots.acquire(2, 'c', 1)).toBe(true);
    await slots.release(1, 'a');
    expect(await slots.acquire(1, 'b', 1)).toBe(true);
  });
});
