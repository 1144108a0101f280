import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../../database/database.service.js';
import type { Role } from '../../database/entities/index.js';
import type { SessionData } from './session-data.js';

/** What a session's user may be, as the `users` row says now. */
export interface AccountState {
  role: Role;
  disabled: boolean;
  /** credentialStamp() of the stored password hash. */
  credential: string;
}

/** Why every session of a user is ended. */
export type RevocationCause = 'signed_out' | 'disabled' | 'deleted' | 'role_changed' | 'password_changed';

/**
 * How old a remembered row may be when a request uses it. Chosen over a Redis "generation"
 * counter or a pub/sub invalidation because it also catches changes made straight in SQL
 * (which publish nothing), costs no Redis round trip per request, and costs the database one
 * primary-key read per active user per worker per second; changes made through the app
 * (SessionRevocation) delete the sessions in Redis and are effective at once regardless.
 */
export const ACCOUNT_FRESH_MS = 1000;
/** Users remembered per worker (oldest dropped). */
const MEMORY = 10_000;

/** A short digest of a password hash: tells a changed password without keeping the hash in the session. */
export function credentialStamp(passwordHash: string): string {
  return createHash('sha256').update(passwordHash).digest('base64url').slice(0, 22);
}

/** Whether the session's user is still what the session says; the cause to end it otherwise. */
export function sessionMismatch(session: SessionData, state: AccountState | null): RevocationCause | null {
  if (state === null) return 'deleted';
  if (state.disabled) return 'disabled';
  if (session.user !== undefined && session.user.role !== state.role) return 'role_changed';
  // Sessions of earlier releases carry no stamp and are not checked for it.
  if (session.credential !== undefined && session.credential !== state.credential) return 'password_changed';
  return null;
}

interface Remembered {
  state: AccountState | null;
  /** When the database last answered for this user. */
  at: number;
  /** When it was last asked (answered or not): a failed read is not retried by every request. */
  askedAt: number;
}

/**
 * The current role, disabled flag and password stamp of users with live sessions, read from
 * PostgreSQL at most once per ACCOUNT_FRESH_MS per user on this worker (concurrent misses share
 * one read), so a role change or a disabled user takes effect on the next request even when
 * made straight in SQL.
 */
@Injectable()
export class AccountStatus {
  private readonly remembered = new Map<number, Remembered>();
  private readonly reading = new Map<number, Promise<AccountState | null>>();

  constructor(
    private readonly db: DatabaseService,
    private readonly now: () => number = Date.now,
  ) {}

  /** The user's state, no older than `maxAgeMs` (0: read now). Null when the user no longer exists. */
  async current(userId: number, maxAgeMs = ACCOUNT_FRESH_MS): Promise<AccountState | null> {
    const answer = this.known(userId, maxAgeMs);
    if (answer !== undefined) return answer;
    // While the database cannot be asked, nobody can change a user through it either: the last
    // answer stands for as long as the outage lasts.
    const known = this.remembered.get(userId);
    const usable = known !== undefined;
    try {
      return await this.read(userId);
    } catch (error) {
      // The database is out of reach (or the breaker is open): the last answer beats failing
      // every request of every user.
      if (!usable) throw error;
      const latest = this.remembered.get(userId);
      if (latest !== undefined) latest.askedAt = this.now();
      return known.state;
    }
  }

  /**
   * What current() answers without reading, synchronously (undefined: it would read): most
   * requests need no promise for it.
   */
  known(userId: number, maxAgeMs = ACCOUNT_FRESH_MS): AccountState | null | undefined {
    const known = this.remembered.get(userId);
    if (known === undefined) return undefined;
    const now = this.now();
    if (now - known.at < maxAgeMs) return known.state;
    // A read just failed: until it is due again, requests go on with the last answer rather
    // than each waiting out the pool for another failure.
    if (maxAgeMs > 0 && now - known.askedAt < maxAgeMs) return known.state;
    return undefined;
  }

  /** Records a state read elsewhere (at login), so the first request after it needs no read. */
  remember(userId: number, state: AccountState): void {
    this.put(userId, state);
  }

  forget(userId: number): void {
    this.remembered.delete(userId);
  }

  private read(userId: number): Promise<AccountState | null> {
    const pending = this.reading.get(userId);
    if (pending !== undefined) return pending;
    const started = this.now();
    const read = this.db
      .run((sql) => sql.query<{ role: Role; disabled: boolean; password_hash: string }>('/* auth.account_status */ SELECT role, disabled, password_hash FROM users WHERE id = $1', [userId]))
      .then(([row]) => {
        const state = row === undefined ? null : { role: row.role, disabled: row.disabled, credential: credentialStamp(row.password_hash) };
        this.put(userId, state, started);
        return state;
      })
      .finally(() => this.reading.delete(userId));
    this.reading.set(userId, read);
    return read;
  }

  private put(userId: number, state: AccountState | null, at = this.now()): void {
    this.remembered.delete(userId);
    this.remembered.set(userId, { state, at, askedAt: at });
    if (this.remembered.size > MEMORY) this.remembered.delete(this.remembered.keys().next().value as number);
  }
}
