import { SessionBackend } from './session-backend.js';

interface Entry {
  value: string;
  expiresAt: number;
}

/** Enough for a development machine; past it the least recently used session goes first. */
export const MEMORY_SESSION_CAPACITY = 10_000;
/** Expired entries dropped from the cold end per write: keeps each write O(1). */
const EXPIRED_SWEEP_PER_WRITE = 4;

/**
 * Single-instance mode only (no REDIS_URL, never in production). Every operation is O(1):
 * expiry is checked when an entry is read, the map's insertion order doubles as an LRU
 * list (a write moves the entry to the end), and each write drops a few expired entries
 * from the cold end and evicts past the capacity, so memory stays bounded without a timer.
 */
export class MemorySessionBackend extends SessionBackend {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly capacity = MEMORY_SESSION_CAPACITY,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  get size(): number {
    return this.entries.size;
  }

  async read(id: string): Promise<string | null> {
    return this.live(id)?.value ?? null;
  }

  async create(id: string, value: string, ttlMs: number): Promise<boolean> {
    if (this.live(id)) return false;
    this.put(id, value, ttlMs);
    return true;
  }

  async update(id: string, value: string, ttlMs: number): Promise<boolean> {
    if (!this.live(id)) return false;
    this.put(id, value, ttlMs);
    return true;
  }

  async refresh(id: string, ttlMs: number): Promise<boolean> {
    const entry = this.live(id);
    if (!entry) return false;
    this.put(id, entry.value, ttlMs);
    return true;
  }

  async remove(id: string): Promise<void> {
    this.entries.delete(id);
  }

  private live(id: string): Entry | null {
    const entry = this.entries.get(id);
    if (!entry) return null;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(id);
      return null;
    }
    return entry;
  }

  private put(id: string, value: string, ttlMs: number): void {
    const now = this.now();
    this.entries.delete(id);
    this.entries.set(id, { value, expiresAt: now + ttlMs });
    let swept = 0;
    for (const [key, entry] of this.entries) {
      if (swept >= EXPIRED_SWEEP_PER_WRITE || entry.expiresAt > now) break;
      this.entries.delete(key);
      swept += 1;
    }
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }
}
