import { SessionBackend, type SessionOwner } from './session-backend.js';

interface Entry {
  value: string;
  expiresAt: number;
  ownerId: number | undefined;
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
 * The per-user index only ever holds ids of entries in the map: every way an entry leaves
 * (removal, expiry, eviction) goes through drop().
 */
export class MemorySessionBackend extends SessionBackend {
  private readonly entries = new Map<string, Entry>();
  private readonly byUser = new Map<number, Set<string>>();

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

  async create(id: string, value: string, ttlMs: number, owner?: SessionOwner): Promise<boolean> {
    if (this.live(id)) return false;
    this.put(id, value, ttlMs, owner?.userId);
    if (owner !== undefined) {
      const ids = this.byUser.get(owner.userId) ?? new Set<string>();
      ids.add(id);
      this.byUser.set(owner.userId, ids);
    }
    return true;
  }

  async update(id: string, value: string, ttlMs: number): Promise<boolean> {
    const entry = this.live(id);
    if (!entry) return false;
    this.put(id, value, ttlMs, entry.ownerId);
    return true;
  }

  async refresh(id: string, ttlMs: number): Promise<boolean> {
    const entry = this.live(id);
    if (!entry) return false;
    this.put(id, entry.value, ttlMs, entry.ownerId);
    return true;
  }

  async remove(id: string): Promise<void> {
    this.drop(id);
  }

  async removeUser(userId: number): Promise<number> {
    const ids = [...(this.byUser.get(userId) ?? [])];
    let live = 0;
    for (const id of ids) {
      if (this.live(id)) live += 1;
      this.drop(id);
    }
    return live;
  }

  /** Sessions listed under the user (for tests: the index never outlives its entries). */
  sessionsOf(userId: number): number {
    return this.byUser.get(userId)?.size ?? 0;
  }

  private drop(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    if (entry.ownerId === undefined) return;
    const ids = this.byUser.get(entry.ownerId);
    ids?.delete(id);
    if (ids?.size === 0) this.byUser.delete(entry.ownerId);
  }

  private live(id: string): Entry | null {
    const entry = this.entries.get(id);
    if (!entry) return null;
    if (entry.expiresAt <= this.now()) {
      this.drop(id);
      return null;
    }
    return entry;
  }

  private put(id: string, value: string, ttlMs: number, ownerId: number | undefined): void {
    const now = this.now();
    // Re-inserted (not dropped: the index entry stays) so the map's order stays least recently written first.
    this.entries.delete(id);
    this.entries.set(id, { value, expiresAt: now + ttlMs, ownerId });
    let swept = 0;
    for (const [key, entry] of this.entries) {
      if (swept >= EXPIRED_SWEEP_PER_WRITE || entry.expiresAt > now) break;
      this.drop(key);
      swept += 1;
    }
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.drop(oldest.value);
    }
  }
}
