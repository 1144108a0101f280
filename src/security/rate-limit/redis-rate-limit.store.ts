import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RateLimitStore, type RateLimitRecord, toRecord } from './rate-limit.store.js';

/**
 * The counting step, for scripts that define `key`, `window`, `limit` and `block` (ms) first:
 * count the hit, start the window on the first one, and on the hit that crosses the limit
 * stretch the key's life to the block duration. Leaves `hits` and `ttl` (ms left) set. Shared
 * by RATE_LIMIT_LUA and the session read that counts the account in the same round trip.
 */
export const COUNT_HIT_LUA = `
local hits = redis.call('INCR', key)
local ttl = redis.call('PTTL', key)
if ttl < 0 then
  ttl = window
  redis.call('PEXPIRE', key, ttl)
end
if hits == limit + 1 and block > ttl then
  ttl = block
  redis.call('PEXPIRE', key, ttl)
end
`;

/**
 * One round trip, atomic (COUNT_HIT_LUA on KEYS[1]). A single key per counter keeps it valid
 * on Redis Cluster. ARGV: window ms, limit, block ms. Returns {hits, milliseconds left}.
 */
export const RATE_LIMIT_LUA = `
local key, window, limit, block = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
${COUNT_HIT_LUA}
return {hits, ttl}
`;

/** PEXPIRE only ever lengthening the key's life; returns the milliseconds left (0: no key). */
export const EXTEND_LUA = `
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then return 0 end
local wanted = tonumber(ARGV[1])
if wanted > ttl then
  redis.call('PEXPIRE', KEYS[1], wanted)
  return wanted
end
return ttl
`;

/** DECR keeps the key's TTL; a key over its limit (blocked) is left alone. */
export const REFUND_LUA = `
local hits = tonumber(redis.call('GET', KEYS[1]))
if hits and hits > 0 and hits <= tonumber(ARGV[1]) then redis.call('DECR', KEYS[1]) end
return 0
`;

/** The hash EVALSHA names a script by. */
export const scriptSha = (script: string) => createHash('sha1').update(script).digest('hex');
const sha = scriptSha;
const SCRIPTS = {
  increment: { lua: RATE_LIMIT_LUA, sha: sha(RATE_LIMIT_LUA) },
  extend: { lua: EXTEND_LUA, sha: sha(EXTEND_LUA) },
  refund: { lua: REFUND_LUA, sha: sha(REFUND_LUA) },
};

/** The Redis key of the store's counter `key` (RateLimiter's counterKey) under REDIS_KEY_PREFIX. */
export function redisCounterKey(keyPrefix: string, key: string): string {
  return `${keyPrefix}rl:${key}`;
}

/**
 * Counters in Redis under `REDIS_KEY_PREFIX` + `rl:`, shared by every worker and replica, so a
 * budget holds however requests are balanced. The script is sent by hash and only re-sent
 * after Redis forgot it (restart, SCRIPT FLUSH).
 */
export class RedisRateLimitStore extends RateLimitStore {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
  ) {
    super();
  }

  async increment(key: string, ttl: number, limit: number, blockDuration: number, _throttlerName?: string): Promise<RateLimitRecord> {
    const args = [String(Math.ceil(ttl)), String(limit), String(Math.ceil(blockDuration))];
    const [hits, remainingMs] = (await this.run(SCRIPTS.increment, key, args)) as [number, number];
    return toRecord(hits, limit, remainingMs);
  }

  async extend(key: string, ttlMs: number): Promise<number> {
    return Number(await this.run(SCRIPTS.extend, key, [String(Math.ceil(ttlMs))]));
  }

  async refund(key: string, limit: number): Promise<void> {
    await this.run(SCRIPTS.refund, key, [String(limit)]);
  }

  private async run(script: { lua: string; sha: string }, key: string, args: string[]): Promise<unknown> {
    const redisKey = redisCounterKey(this.keyPrefix, key);
    try {
      return await this.redis.evalsha(script.sha, 1, redisKey, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return this.redis.eval(script.lua, 1, redisKey, ...args);
    }
  }
}
