import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RateLimitStore, type RateLimitRecord, toRecord } from './rate-limit.store.js';

/**
 * One round trip, atomic: count the hit, start the window on the first one, and on the hit
 * that crosses the limit stretch the key's life to the block duration. A single key per
 * counter keeps it valid on Redis Cluster. Returns {hits, milliseconds left}.
 */
export const RATE_LIMIT_LUA = `
local hits = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  ttl = tonumber(ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
end
if hits == tonumber(ARGV[2]) + 1 then
  local block = tonumber(ARGV[3])
  if block > ttl then
    ttl = block
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
end
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

const sha = (script: string) => createHash('sha1').update(script).digest('hex');
const SCRIPTS = {
  increment: { lua: RATE_LIMIT_LUA, sha: sha(RATE_LIMIT_LUA) },
  extend: { lua: EXTEND_LUA, sha: sha(EXTEND_LUA) },
  refund: { lua: REFUND_LUA, sha: sha(REFUND_LUA) },
};

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
    const redisKey = `${this.keyPrefix}rl:${key}`;
    try {
      return await this.redis.evalsha(script.sha, 1, redisKey, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return this.redis.eval(script.lua, 1, redisKey, ...args);
    }
  }
}
