import { RateLimitStore, type RateLimitRecord, toRecord } from './rate-limit.store.js';

interface Window {
  hits: number;
  /** Epoch ms when the window (or the block, once over the limit) ends. */
  endsAt: number;
}

export interface MemoryStoreOptions {
  /** Hard bound on tracked keys; past it the oldest key is dropped. */
  maxKeys?: number;
  /** Keys examined for expiry per request; more than one so sweeping outpaces insertion. */
  sweepPerCall?: number;
  now?: () => number;
}

/**
 * Single-instance fallback (no REDIS_URL): one counter and one deadline per key, so a request
 * costs the same however busy the key is (unlike @nestjs/throttler's default storage, which
 * keeps and scans every hit time). Expired keys are evicted incrementally, a couple per
 * request, by a cursor that walks the map; no timer holds shutdown open.
 */
export class MemoryRateLimitStore extends RateLimitStore {
  private readonly windows = new Map<string, Window>();
  private cursor: MapIterator<[string, Window]> | null = null;
  private readonly maxKeys: number;
  private readonly sweepPerCall: number;
  private readonly now: () => number;

  constructor(options: MemoryStoreOptions = {}) {
    super();
    this.maxKeys = options.maxKeys ?? 100_000;
    this.sweepPerCall = options.sweepPerCall ?? 2;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.windows.size;
  }

  async increment(key: string, ttl: number, limit: number, blockDuration: number, _throttlerName?: string): Promise<RateLimitRecord> {
    const now = this.now();
    this.sweep(now);
    let window = this.windows.get(key);
    if (window === undefined || window.endsAt <= now) {
      // Re-inserting moves the key to the end, so the map stays roughly in expiry order.
      this.windows.delete(key);
      window = { hits: 0, endsAt: now + ttl };
      this.windows.set(key, window);
      this.enforceBound();
    }
    window.hits += 1;
    if (window.hits === limit + 1) window.endsAt = Math.max(window.endsAt, now + blockDuration);
    return toRecord(window.hits, limit, window.endsAt - now);
  }

  async extend(key: string, ttlMs: number): Promise<number> {
    const now = this.now();
    const window = this.windows.get(key);
    if (window === undefined || window.endsAt <= now) return 0;
    window.endsAt = Math.max(window.endsAt, now + ttlMs);
    return window.endsAt - now;
  }

  async refund(key: string, limit: number): Promise<void> {
    const window = this.windows.get(key);
    if (window !== undefined && window.endsAt > this.now() && window.hits > 0 && window.hits <= limit) window.hits -= 1;
  }

  private sweep(now: number): void {
    for (let i = 0; i < this.sweepPerCall; i += 1) {
      this.cursor ??= this.windows.entries();
      const next = this.cursor.next();
      if (next.done) {
        this.cursor = null;
        return;
      }
      const [key, window] = next.value;
      if (window.endsAt <= now) this.windows.delete(key);
    }
  }

  private enforceBound(): void {
    while (this.windows.size > this.maxKeys) {
      const oldest = this.windows.keys().next();
      if (oldest.done) return;
      this.windows.delete(oldest.value);
    }
  }
}
