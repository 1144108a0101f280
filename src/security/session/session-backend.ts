/** Whose session it is, for the per-user index that revocation uses. */
export interface SessionOwner {
  userId: number;
  /** Epoch ms of the session's absolute deadline: how long the index must remember it. */
  expiresAt: number;
}

/**
 * A per-account request counter that a session read may bump in the same Redis round trip:
 * the counter at `keyPrefix` + the session's user id, counted like RateLimitStore.increment.
 */
export interface AccountCount {
  keyPrefix: string;
  windowMs: number;
  limit: number;
  blockMs: number;
}

/** One hit counted on the account of the session that was read. */
export interface AccountHit {
  userId: number;
  hits: number;
  /** Milliseconds left in the counter's window (or block). */
  remainingMs: number;
}

/**
 * Where serialised sessions live, keyed by session id. Writes are split by intent so no
 * implementation can turn an update into a creation: a request that loaded a session
 * before a logout deleted it must not write it back. A logged-in session is also listed under
 * its user, in the same atomic step as its creation, so every session of a user can be
 * ended at once (removeUser) and none can be created outside the list.
 */
export abstract class SessionBackend {
  abstract read(id: string): Promise<string | null>;
  /**
   * read(), and when the stored session names a user, one hit on that user's counter, in one
   * step. Backends that cannot do both at once only read (`hit` null: the caller counts).
   */
  async readCounting(id: string, _count: AccountCount): Promise<{ raw: string | null; hit: AccountHit | null }> {
    return { raw: await this.read(id), hit: null };
  }
  /** Writes only when no session with this id exists; false otherwise. */
  abstract create(id: string, value: string, ttlMs: number, owner?: SessionOwner): Promise<boolean>;
  /** Writes only while the session still exists; false when it is gone. */
  abstract update(id: string, value: string, ttlMs: number): Promise<boolean>;
  /** Resets the TTL of an existing session; false when it is gone. */
  abstract refresh(id: string, ttlMs: number): Promise<boolean>;
  /** Deletes the session (and its entry in its owner's list, when the owner is given). */
  abstract remove(id: string, ownerId?: number): Promise<void>;
  /** Deletes every session of the user; resolves to how many still existed. */
  abstract removeUser(userId: number): Promise<number>;
}
