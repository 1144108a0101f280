/**
 * Where serialised sessions live, keyed by session id. Writes are split by intent so no
 * implementation can turn an update into a creation: a request that loaded a session
 * before a logout deleted it must not write it back.
 */
export abstract class SessionBackend {
  abstract read(id: string): Promise<string | null>;
  /** Writes only when no session with this id exists; false otherwise. */
  abstract create(id: string, value: string, ttlMs: number): Promise<boolean>;
  /** Writes only while the session still exists; false when it is gone. */
  abstract update(id: string, value: string, ttlMs: number): Promise<boolean>;
  /** Resets the TTL of an existing session; false when it is gone. */
  abstract refresh(id: string, ttlMs: number): Promise<boolean>;
  abstract remove(id: string): Promise<void>;
}
