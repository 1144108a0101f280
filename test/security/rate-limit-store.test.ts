import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisRateLimitStore } from '../../src/security/rate-limit/redis-rate-limit.store.js';
import { SHARED_REDIS_URL, startOwnRedis, uniquePrefix } from '../support/redis.js';

describe(RedisRateLimitStore.name, () => {
  let redis: Redis;
  let other: Redis;
  const prefix = uniquePrefix();
  beforeAll(() => {
    redis = new Redis(SHARED_REDIS_URL);
    other = new Redis(SHARED_REDIS_URL);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    other.disconnect();
  });

  it('counts atomically across clients and blocks past the limit for the block duration', async () => {
    const one = new RedisRateLimitStore(redis, prefix);
    const two = new RedisRateLimitStore(other, prefix);
    const records = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? one : two).increment('login:1.2.3.4', 1000, 10, 5000, 'login')));
    expect(records.map((r) => r.totalHits).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(records.filter((r) => r.isBlocked)).toHaveLength(10);
    // The hit that crossed the limit stretched the key to the 5 s block.
    const pttl = await redis.pttl(`${prefix}rl:login:1.2.3.4`);
    expect(pttl).toBeGreaterThan(4000);
    expect((await one.increment('login:1.2.3.4', 1000, 10, 5000, 'login')).timeToBlockExpire).toBe(5);
  });

  it('starts a new window when the old one expires', async () => {
    const store = new RedisRateLimitStore(redis, prefix);
    await store.increment('account:7', 200, 1, 200, 'account');
    expect((await store.increment('account:7', 200, 1, 200, 'account')).isBlocked).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await store.increment('account:7', 200, 1, 200, 'account')).toMatchObject({ totalHits: 1, isBlocked: false });
  });

  it('extends a key only ever longer, and refunds a hit without lifting a block', async () => {
    const store = new RedisRateLimitStore(redis, prefix);
    const key = 'login-account:abc';
    expect(await store.extend(key, 5000)).toBe(0);
    expect(await redis.exists(`${prefix}rl:${key}`)).toBe(0);
    await store.increment(key, 1000, 2, 1000, 'login-account');
    expect(await store.extend(key, 5000)).toBe(5000);
    expect(await store.extend(key, 100)).toBeGreaterThan(4000);
    await store.refund(key, 2);
    expect(await redis.get(`${prefix}rl:${key}`)).toBe('0');
    expect(await redis.pttl(`${prefix}rl:${key}`)).toBeGreaterThan(4000);
    for (let i = 0; i < 3; i += 1) await store.increment(key, 1000, 2, 1000, 'login-account');
    await store.refund(key, 2);
    expect(await redis.get(`${prefix}rl:${key}`)).toBe('3');
  });

  it('re-sends the script after Redis forgot it', async () => {
    // SCRIPT FLUSH on a Redis of this test's own: the shared one serves other files' scripts.
    const own = await startOwnRedis();
    const client = new Redis(own.url);
    try {
      const store = new RedisRateLimitStore(client, prefix);
      await store.increment('csp-report:9.9.9.9', 60_000, 5, 60_000, 'csp-report');
      await client.script('FLUSH');
      expect((await store.increment('csp-report:9.9.9.9', 60_000, 5, 60_000, 'csp-report')).totalHits).toBe(2);
    } finally {
      client.disconnect();
      await own.stop();
    }
  });
});
