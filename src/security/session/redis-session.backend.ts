import type { Redis } from 'ioredis';
import { SessionBackend } from './session-backend.js';
import { SessionStoreUnavailableException } from './session-store-unavailable.exception.js';

/**
 * Sessions in Redis, the single source of truth shared by every worker and replica.
 * `NX`/`XX` make creation and update atomic conditions in Redis itself, so a slow request
 * cannot resurrect a session that a logout on another connection has deleted.
 */
export class RedisSessionBackend extends SessionBackend {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
  ) {
    super();
  }

  read(id: string): Promise<string | null> {
    return this.call(() => this.redis.get(this.key(id)));
  }

  async create(id: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.call(() => this.redis.set(this.key(id), value, 'PX', ttlMs, 'NX'))) === 'OK';
  }

  async update(id: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.call(() => this.redis.set(this.key(id), value, 'PX', ttlMs, 'XX'))) === 'OK';
  }

  async refresh(id: string, ttlMs: number): Promise<boolean> {
    // PEXPIRE never creates a key.
    return (await this.call(() => this.redis.pexpire(this.key(id), ttlMs))) === 1;
  }

  async remove(id: string): Promise<void> {
    await this.call(() => this.redis.del(this.key(id)));
  }

  /** The Redis key of a session; tests and operators look sessions up by it. */
  key(id: string): string {
    return `${this.keyPrefix}sess:${id}`;
  }

  private async call<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new SessionStoreUnavailableException(error);
    }
  }
}
