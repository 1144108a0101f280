import type { Redis } from 'ioredis';
import { COUNT_HIT_LUA, scriptSha } from '../rate-limit/redis-rate-limit.store.js';
import { type AccountCount, type AccountHit, SessionBackend, type SessionOwner } from './session-backend.js';
import { SessionStoreUnavailableException } from './session-store-unavailable.exception.js';

/**
 * Creation of a logged-in session and its entry in the user's index, atomically: a session
 * can never exist unlisted, so revoking the user always finds it. The index is a sorted set
 * scored by each session's absolute deadline; entries past it are dropped here and the set
 * itself expires with its longest-lived session, so it stays as small as the user's logins
 * within one absolute timeout.
 * KEYS: session, index. ARGV: value, ttl ms, session id, deadline (epoch ms), now (epoch ms).
 */
const CREATE_OWNED_LUA = `
if not redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 0 end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[2], last[2])
return 1
`;

/**
 * Every session of one user, deleted in one atomic step, so no worker reads one of them
 * after this returns. Session keys are derived from the index (single Redis, not Cluster).
 * KEYS: index. ARGV: session key prefix. Returns how many sessions still existed.
 */
const REMOVE_USER_LUA = `
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local live = 0
for _, id in ipairs(ids) do live = live + redis.call('DEL', ARGV[1] .. id) end
redis.call('DEL', KEYS[1])
return live
`;

/**
 * The session, and one hit on its user's request counter, in one round trip: an authenticated
 * request costs Redis one command instead of a read and then a count. The counter's key comes
 * from the session's user id, so it cannot be declared in KEYS (single Redis, not Cluster, as
 * REMOVE_USER_LUA). Expired sessions are gone from Redis (their TTL never outlives them), so
 * only live sessions are counted; one that does not parse or names no user is not counted.
 * KEYS: session. ARGV: counter key prefix, window ms, limit, block ms.
 * Returns {} (no session), {raw} (not counted) or {raw, user id, hits, ms left}.
 */
export const READ_AND_COUNT_LUA = `
local raw = redis.call('GET', KEYS[1])
if not raw then return {} end
local ok, session = pcall(cjson.decode, raw)
if not ok or type(session) ~= 'table' or type(session.user) ~= 'table' then return {raw} end
local id = session.user.id
if type(id) ~= 'number' or id ~= math.floor(id) then return {raw} end
local key, window, limit, block = ARGV[1] .. string.format('%d', id), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
${COUNT_HIT_LUA}
return {raw, id, hits, ttl}
`;
const READ_AND_COUNT_SHA = scriptSha(READ_AND_COUNT_LUA);

/**
 * Sessions in Redis, the single source of truth shared by every worker and replica.
 * `NX`/`XX` make creation and update atomic conditions in Redis itself, so a slow request
 * cannot resurrect a session that a logout on another connection has deleted.
 */
export class RedisSessionBackend extends SessionBackend {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  read(id: string): Promise<string | null> {
    return this.call(() => this.redis.get(this.key(id)));
  }

  // Once per request: plain promise handlers rather than nested async functions (a promise
  // and a microtask fewer each), and the counter's arguments built once per policy.
  override readCounting(id: string, count: AccountCount): Promise<{ raw: string | null; hit: AccountHit | null }> {
    const key = this.key(id);
    const args = this.countArgs(count);
    return this.redis
      .evalsha(READ_AND_COUNT_SHA, 1, key, ...args)
      .catch((error: unknown) => {
        // Sent in full only after Redis forgot it (restart, SCRIPT FLUSH).
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return this.redis.eval(READ_AND_COUNT_LUA, 1, key, ...args);
      })
      .then(
        (value) => {
          const reply = value as [] | [string] | [string, number, number, number];
          if (reply.length === 0) return { raw: null, hit: null };
          if (reply.length === 1) return { raw: reply[0], hit: null };
          return { raw: reply[0], hit: { userId: reply[1], hits: reply[2], remainingMs: reply[3] } };
        },
        (error: unknown) => {
          throw new SessionStoreUnavailableException(error);
        },
      );
  }

  private counted: { count: AccountCount; args: string[] } | null = null;

  private countArgs(count: AccountCount): string[] {
    if (this.counted?.count !== count) {
      this.counted = { count, args: [count.keyPrefix, String(Math.ceil(count.windowMs)), String(count.limit), String(Math.ceil(count.blockMs))] };
    }
    return this.counted.args;
  }

  async create(id: string, value: string, ttlMs: number, owner?: SessionOwner): Promise<boolean> {
    if (owner === undefined) return (await this.call(() => this.redis.set(this.key(id), value, 'PX', ttlMs, 'NX'))) === 'OK';
    const created = await this.call(() =>
      this.redis.eval(CREATE_OWNED_LUA, 2, this.key(id), this.userKey(owner.userId), value, ttlMs, id, owner.expiresAt, this.now()),
    );
    return created === 1;
  }

  async update(id: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.call(() => this.redis.set(this.key(id), value, 'PX', ttlMs, 'XX'))) === 'OK';
  }

  async refresh(id: string, ttlMs: number): Promise<boolean> {
    // PEXPIRE never creates a key.
    return (await this.call(() => this.redis.pexpire(this.key(id), ttlMs))) === 1;
  }

  async remove(id: string, ownerId?: number): Promise<void> {
    if (ownerId === undefined) {
      await this.call(() => this.redis.del(this.key(id)));
      return;
    }
    await this.call(() => this.redis.multi().del(this.key(id)).zrem(this.userKey(ownerId), id).exec());
  }

  async removeUser(userId: number): Promise<number> {
    return Number(await this.call(() => this.redis.eval(REMOVE_USER_LUA, 1, this.userKey(userId), this.key(''))));
  }

  /** The Redis key of a session; tests and operators look sessions up by it. */
  key(id: string): string {
    return `${this.keyPrefix}sess:${id}`;
  }

  /** The sorted set of a user's session ids (score: absolute deadline, epoch ms). */
  userKey(userId: number): string {
    return `${this.keyPrefix}user-sess:${userId}`;
  }

  private async call<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new SessionStoreUnavailableException(error);
    }
  }
}
