/** Whose session it is, for the per-user index that revocation uses. */
export interface SessionOwner {
  userId: number;
  /** Epoch ms of the session's absolute deadline: how long the index must remember it. */
  expiresAt: number;
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
