import type { Logger } from 'pino';
import { type AccountCount, type AccountHit, SessionBackend } from './session-backend.js';
import type { SessionData } from './session-data.js';
import { absoluteTimeoutMs, remainingLifetimeMs, type SessionTimeouts } from './session-lifetime.js';

/** Sessions whose last idle-timeout slide this process remembers (bounded, oldest dropped). */
const TOUCH_MEMORY = 10_000;

/**
 * Written with every session so a worker of the previous release (express-session, which
 * refuses session JSON without a `cookie` object) reads the sessions of this one during a
 * rolling upgrade. Nothing here reads it back.
 */
const LEGACY_COOKIE_FIELD = { originalMaxAge: null, path: '/', httpOnly: true, sameSite: 'lax' } as const;

/**
 * The session rules on top of a backend: every TTL comes from the session's own clock (idle
 * sliding, absolute fixed), a session past its absolute deadline is absent (and deleted), and
 * creation and update are distinct writes, so a request that loaded a session before a logout
 * deleted it can never write it back. Backend failures surface as SESSION_STORE_UNAVAILABLE
 * and are never turned into "no session".
 */
export class RampartSessionStore {
  private readonly refreshedAt = new Map<string, number>();
  /** At most a 20th of the idle timeout, at most 30 s: the precision of the sliding timeout. */
  private readonly touchGranularityMs: number;

  constructor(
    private readonly backend: SessionBackend,
    private readonly timeouts: SessionTimeouts,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.touchGranularityMs = Math.min(30_000, (timeouts.idleTimeoutS * 1000) / 20);
  }

  /** The live session with this id, or null when there is none (or it has expired). */
  async load(id: string): Promise<SessionData | null> {
    return (await this.loadCounting(id, null)).data;
  }

  /**
   * load(), also counting one hit on the session's user's counter in the same backend step
   * when `count` is given and the backend can (`hit`: null when nothing was counted).
   */
  async loadCounting(id: string, count: AccountCount | null): Promise<{ data: SessionData | null; hit: AccountHit | null }> {
    const { raw, hit } = count === null ? { raw: await this.backend.read(id), hit: null } : await this.backend.readCounting(id, count);
    if (raw === null) return { data: null, hit: null };
    const data = parse(raw);
    if (data !== null && remainingLifetimeMs(data, this.timeouts, this.now()) > 0) {
      return { data, hit: hit !== null && hit.userId === data.user?.id ? hit : null };
    }
    // Past the absolute deadline (or unreadable): gone for good, not merely ignored.
    await this.backend.remove(id, data?.user?.id);
    return { data: null, hit: null };
  }

  /** Stores a new session under a fresh id; throws when the id is taken. */
  async create(id: string, data: SessionData): Promise<void> {
    // A session someone forgot to start still gets a clock rather than living forever.
    data.createdAt ??= this.now();
    const ttlMs = remainingLifetimeMs(data, this.timeouts, this.now());
    if (ttlMs <= 0) throw new Error('refusing to store a session that has already expired');
    const owner = data.user === undefined ? undefined : { userId: data.user.id, expiresAt: data.createdAt + absoluteTimeoutMs(data, this.timeouts) };
    if (!(await this.backend.create(id, serialise(data), ttlMs, owner))) throw new Error('session id already in use');
    // Written with a full TTL just now: a touch within the granularity would add nothing.
    this.markRefreshed(id, this.now());
  }

  /** Rewrites an existing session; false (and nothing written) when it is gone, e.g. logged out. */
  async update(id: string, data: SessionData): Promise<boolean> {
    const ttlMs = remainingLifetimeMs(data, this.timeouts, this.now());
    if (ttlMs <= 0) {
      await this.backend.remove(id, data.user?.id);
      return false;
    }
    const written = await this.backend.update(id, serialise(data), ttlMs);
    if (written) this.markRefreshed(id, this.now());
    if (!written) this.logger.debug('session was deleted while this request ran; not writing it back');
    return written;
  }

  /**
   * Slides the idle timeout of a session in use. Within the granularity the key's TTL is as
   * good as fresh, so a busy session costs one Redis command per granularity, not per request.
   * Never extends a life: every TTL is capped by the absolute deadline too.
   */
  touch(id: string, data: SessionData): Promise<void> | null {
    const now = this.now();
    const ttlMs = remainingLifetimeMs(data, this.timeouts, now);
    // Null when there is nothing to write (most requests): the caller awaits no promise then.
    if (ttlMs > 0 && this.recentlyRefreshed(id, now)) return null;
    if (ttlMs <= 0) return this.backend.remove(id, data.user?.id);
    return this.backend.refresh(id, ttlMs).then(() => undefined);
  }

  /** Deletes one session; `ownerId` (its user) also takes it off that user's index. */
  async destroy(id: string, ownerId?: number): Promise<void> {
    this.refreshedAt.delete(id);
    await this.backend.remove(id, ownerId);
  }

  /** Deletes every session of the user, on every worker and replica at once; how many were live. */
  revokeUser(userId: number): Promise<number> {
    return this.backend.removeUser(userId);
  }

  private recentlyRefreshed(id: string, now: number): boolean {
    const last = this.refreshedAt.get(id);
    if (last !== undefined && now - last < this.touchGranularityMs) return true;
    this.markRefreshed(id, now);
    return false;
  }

  private markRefreshed(id: string, now: number): void {
    // Re-inserted so the map's iteration order is least-recently-refreshed first.
    this.refreshedAt.delete(id);
    this.refreshedAt.set(id, now);
    if (this.refreshedAt.size > TOUCH_MEMORY) this.refreshedAt.delete(this.refreshedAt.keys().next().value as string);
  }
}

function serialise(data: SessionData): string {
  return JSON.stringify({
    cookie: LEGACY_COOKIE_FIELD,
    createdAt: data.createdAt,
    user: data.user,
    csrfToken: data.csrfToken ?? undefined,
    credential: data.credential,
    mustChangePassword: data.mustChangePassword,
    maxLifetimeS: data.maxLifetimeS,
  });
}

function parse(raw: string): SessionData | null {
  try {
    const data = JSON.parse(raw) as unknown;
    if (data === null || typeof data !== 'object') return null;
    const { createdAt, user, csrfToken, credential, mustChangePassword, maxLifetimeS } = data as Record<string, unknown>;
    if (typeof createdAt !== 'number') return null;
    const session: SessionData = { createdAt };
    if (user !== undefined) session.user = user as SessionData['user'];
    if (typeof csrfToken === 'string') session.csrfToken = csrfToken;
    if (typeof credential === 'string') session.credential = credential;
    if (mustChangePassword === true) session.mustChangePassword = true;
    if (typeof maxLifetimeS === 'number') session.maxLifetimeS = maxLifetimeS;
    return session;
  } catch {
    return null;
  }
}
