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

const SHA = createHash('sha1').update(RATE_LIMIT_LUA).digest('hex');

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
    const redisKey = `${this.keyPrefix}rl:${key}`;
    const args = [String(Math.ceil(ttl)), String(limit), String(Math.ceil(blockDuration))];
    let reply: unknown;
    try {
      reply = await this.redis.evalsha(SHA, 1, redisKey, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      reply = await this.redis.eval(RATE_LIMIT_LUA, 1, redisKey, ...args);
    }
    const [hits, remainingMs] = reply as [number, number];
    return toRecord(hits, limit, remainingMs);
  }
}
