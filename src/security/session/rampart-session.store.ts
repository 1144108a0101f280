import type { Request } from 'express';
import session, { type Session, type SessionData } from 'express-session';
import type { Logger } from 'pino';
import { SessionBackend } from './session-backend.js';
import { remainingLifetimeMs, type SessionTimeouts } from './session-lifetime.js';
import './session-data.js';

/**
 * Marks a session object that exists in the backend (loaded from it, or created by this
 * request). Writes of marked sessions are updates (`XX`), of unmarked ones creations
 * (`NX`). A symbol so it never reaches the serialised data or express-session's hash.
 */
const PERSISTED = Symbol('rampart.session.persisted');
type Marked = { [PERSISTED]?: true };

type Callback = (err?: unknown) => void;

/**
 * express-session's view of the backend: decides creation versus update, computes every
 * TTL from the session's own clock (idle sliding, absolute fixed), and treats a session past
 * its absolute deadline as absent. Errors surface as SESSION_STORE_UNAVAILABLE and are
 * never turned into "no session"; the store never emits `disconnect`, which would make
 * express-session carry on without sessions.
 */
/** Sessions whose last idle-timeout slide this process remembers (bounded, oldest dropped). */
const TOUCH_MEMORY = 10_000;

export class RampartSessionStore extends session.Store {
  private readonly refreshedAt = new Map<string, number>();
  /** At most a 20th of the idle timeout, at most 30 s: the precision of the sliding timeout. */
  private readonly touchGranularityMs: number;

  constructor(
    private readonly backend: SessionBackend,
    private readonly timeouts: SessionTimeouts,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    super();
    this.touchGranularityMs = Math.min(30_000, (timeouts.idleTimeoutS * 1000) / 20);
  }

  override get(sid: string, callback: (err: unknown, data?: SessionData | null) => void): void {
    this.backend.read(sid).then(
      (raw) => {
        if (raw === null) return callback(null, null);
        const data = parse(raw);
        if (data !== null && remainingLifetimeMs(data, this.timeouts, this.now()) > 0) return callback(null, data);
        // Past the absolute deadline (or unreadable): gone for good, not merely ignored.
        this.backend.remove(sid).then(
          () => callback(null, null),
          (error: unknown) => callback(error),
        );
      },
      (error: unknown) => callback(error),
    );
  }

  override createSession(req: Request, data: SessionData): Session & SessionData {
    return markPersisted(super.createSession(req, data));
  }

  override set(sid: string, data: SessionData, callback: Callback = noop): void {
    const sessionObject = data as SessionData & Marked;
    // A session someone forgot to start still gets a clock rather than living forever.
    sessionObject.createdAt ??= this.now();
    const ttlMs = remainingLifetimeMs(data, this.timeouts, this.now());
    if (ttlMs <= 0) {
      this.backend.remove(sid).then(() => callback(), callback);
      return;
    }
    const value = JSON.stringify(data);
    if (sessionObject[PERSISTED]) {
      this.backend.update(sid, value, ttlMs).then((written) => {
        if (!written) this.logger.debug('session was deleted while this request ran; not writing it back');
        callback();
      }, callback);
      return;
    }
    this.backend.create(sid, value, ttlMs).then((created) => {
      if (!created) return callback(new Error('session id already in use'));
      markPersisted(sessionObject);
      callback();
    }, callback);
  }

  override touch(sid: string, data: SessionData, callback: Callback = noop): void {
    const now = this.now();
    const ttlMs = remainingLifetimeMs(data, this.timeouts, now);
    if (ttlMs > 0 && this.recentlyRefreshed(sid, now)) {
      // Sliding the idle timeout on every request of a busy session costs a Redis command
      // each; within the granularity the key's TTL is as good as fresh. Never extends a life:
      // the TTL set last time was capped by the absolute timeout too.
      callback();
      return;
    }
    const done = ttlMs <= 0 ? this.backend.remove(sid) : this.backend.refresh(sid, ttlMs);
    done.then(() => callback(), callback);
  }

  private recentlyRefreshed(sid: string, now: number): boolean {
    const last = this.refreshedAt.get(sid);
    if (last !== undefined && now - last < this.touchGranularityMs) return true;
    // Re-inserted so the map's iteration order is least-recently-refreshed first.
    this.refreshedAt.delete(sid);
    this.refreshedAt.set(sid, now);
    if (this.refreshedAt.size > TOUCH_MEMORY) this.refreshedAt.delete(this.refreshedAt.keys().next().value as string);
    return false;
  }

  override destroy(sid: string, callback: Callback = noop): void {
    this.backend.remove(sid).then(() => callback(), callback);
  }
}

function markPersisted<T extends object>(target: T): T {
  Object.defineProperty(target, PERSISTED, { value: true, enumerable: false, configurable: true });
  return target;
}

function parse(raw: string): SessionData | null {
  try {
    const data = JSON.parse(raw) as unknown;
    return data !== null && typeof data === 'object' && 'cookie' in data ? (data as SessionData) : null;
  } catch {
    return null;
  }
}

function noop(): void {}
