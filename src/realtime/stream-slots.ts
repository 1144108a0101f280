import type { Redis } from 'ioredis';

/**
 * Takes a slot when fewer than the limit are live, in one atomic step. Slots are leases that
 * the holder renews (StreamSlots.renew) and that expire on their own, so a worker that dies
 * holding slots frees them within one lease.
 * KEYS: the user's slot set. ARGV: now, limit, lease expiry (epoch ms), slot id, lease ms.
 */
const ACQUIRE_LUA = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`;

/**
 * The live streams one user holds, counted where SSE_MAX_PER_USER must hold: across every
 * worker and replica when REDIS_URL is set (a sorted set of leases per user), in the process
 * otherwise (single-instance mode).
 */
export abstract class StreamSlots {
  /** True when the user had fewer than `limit` slots and now holds `slot` too. */
  abstract acquire(userId: number, slot: string, limit: number): Promise<boolean>;
  abstract release(userId: number, slot: string): Promise<void>;
  /** Extends the leases of slots still held (Redis); a no-op in memory. */
  abstract renew(userId: number, slots: string[]): Promise<void>;
}

export class MemoryStreamSlots extends StreamSlots {
  private readonly held = new Map<number, Set<string>>();

  async acquire(userId: number, slot: string, limit: number): Promise<boolean> {
    const slots = this.held.get(userId) ?? new Set<string>();
    if (slots.size >= limit) return false;
    slots.add(slot);
    this.held.set(userId, slots);
    return true;
  }

  async release(userId: number, slot: string): Promise<void> {
    const slots = this.held.get(userId);
    slots?.delete(slot);
    if (slots?.size === 0) this.held.delete(userId);
  }

  async renew(): Promise<void> {}
}

export class RedisStreamSlots extends StreamSlots {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    /** Must outlast the renewal interval by a margin (a few of them). */
    private readonly leaseMs: number,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  async acquire(userId: number, slot: string, limit: number): Promise<boolean> {
    const now = this.now();
    const taken = await this.redis.eval(ACQUIRE_LUA, 1, this.key(userId), now, limit, now + this.leaseMs, slot, this.leaseMs);
    return taken === 1;
  }

  async release(userId: number, slot: string): Promise<void> {
    await this.redis.zrem(this.key(userId), slot);
  }

  async renew(userId: number, slots: string[]): Promise<void> {
    if (slots.length === 0) return;
    const expiry = this.now() + this.leaseMs;
    // XX: a slot released (or expired and taken over) meanwhile is not brought back.
    await this.redis
      .multi()
      .zadd(this.key(userId), 'XX', ...slots.flatMap((slot) => [expiry, slot]))
      .pexpire(this.key(userId), this.leaseMs)
      .exec();
  }

  key(userId: number): string {
    return `${this.keyPrefix}sse:${userId}`;
  }
}
