import { Inject, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { AuthenticatedUser } from '../../auth/auth.decorators.js';
import { ROOT_LOGGER } from '../../observability/observability.tokens.js';
import { RampartSessionStore } from './rampart-session.store.js';
import { SessionEvents } from './session-events.js';
import { attachSession, sessionStateOf } from './request-session.js';
import { SessionCookie } from './session-cookie.js';
import type { SessionData } from './session-data.js';

/** The "cookie not sent" warning, at most once per this interval per process. */
export const INSECURE_WARNING_INTERVAL_MS = 60_000;

/**
 * Every change to a session is one of these, made on purpose and awaited: starting an
 * anonymous one, saving it, login (always a new id) and logout (the key deleted, the cookie
 * cleared). Nothing is written implicitly at the end of a request, so a store failure is the
 * response's failure rather than a silent loss, and a read-only request costs one read.
 */
@Injectable()
export class SessionControl {
  private lastInsecureWarningAt = Number.NEGATIVE_INFINITY;
  private insecureSinceWarning = 0;

  constructor(
    private readonly store: RampartSessionStore,
    private readonly cookie: SessionCookie,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
    private readonly events: SessionEvents,
  ) {}

  /** Starts the clock of the current session if it has none yet (anonymous, pre-login). */
  begin(req: Request): void {
    sessionOf(req).createdAt ??= Date.now();
  }

  /**
   * Stores the session: an update when it exists in the store, otherwise a creation under a
   * new id, whose cookie is set on `res`. An update of a session deleted meanwhile (a logout
   * on another connection) writes nothing. A new session whose Secure cookie cannot be set
   * (production over plain HTTP) is not stored at all: the browser would never present it,
   * so it could only cost memory. The request's session stays unsaved (its CSRF token backs
   * nothing, and the next state-changing request is refused).
   */
  async save(req: Request, res: Response): Promise<void> {
    const data = sessionOf(req);
    const state = stateOf(req);
    if (state.id !== null) {
      await this.store.update(state.id, data);
      return;
    }
    if (!this.cookie.canSet(req)) {
      this.warnInsecure(req);
      return;
    }
    const id = this.cookie.newId();
    await this.store.create(id, data);
    state.id = id;
    this.cookie.set(req, res, id);
  }

  /** Every request of a misconfigured proxy hits this: one line a minute, with how many were not logged. */
  private warnInsecure(req: Request): void {
    const now = Date.now();
    if (now - this.lastInsecureWarningAt < INSECURE_WARNING_INTERVAL_MS) {
      this.insecureSinceWarning += 1;
      return;
    }
    const suppressed = this.insecureSinceWarning;
    this.lastInsecureWarningAt = now;
    this.insecureSinceWarning = 0;
    (req.log ?? this.logger).warn(
      { cookieName: this.cookie.name, suppressed },
      'session cookie not sent and session not stored: the request is not HTTPS as far as this app can tell (check X-Forwarded-Proto and TRUSTED_PROXIES)',
    );
  }

  /**
   * Login: the old id (and whatever an attacker may have planted in it) is destroyed first.
   * `credential` is the stamp of the password hash the login was checked against, so a
   * password changed meanwhile makes this session invalid at its first use. `mustChangePassword`
   * holds the session to the password change (a one-time password was used); `maxLifetimeS`
   * shortens its absolute timeout (never lengthens it).
   */
  async establish(
    req: Request,
    res: Response,
    user: AuthenticatedUser,
    credential?: string,
    options: { mustChangePassword?: boolean; maxLifetimeS?: number } = {},
  ): Promise<void> {
    await this.destroyCurrent(req);
    const fresh: SessionData = { createdAt: Date.now(), user };
    if (credential !== undefined) fresh.credential = credential;
    if (options.mustChangePassword === true) fresh.mustChangePassword = true;
    if (options.maxLifetimeS !== undefined) fresh.maxLifetimeS = options.maxLifetimeS;
    attachSession(req, fresh, null);
    await this.save(req, res);
    req.user = user;
  }

  async end(req: Request, res: Response): Promise<void> {
    await this.destroyCurrent(req);
    attachSession(req, {}, null);
    this.cookie.clear(res);
    delete req.user;
  }

  /** Deletes the request's stored session; what was bound to a logged-in one (live streams) ends now. */
  private async destroyCurrent(req: Request): Promise<void> {
    const id = stateOf(req).id;
    if (id === null) return;
    const userId = req.session?.user?.id;
    await this.store.destroy(id, userId);
    if (userId !== undefined) this.events.publish({ kind: 'session', sessionId: id, reason: 'logged_out' });
  }
}

function sessionOf(req: Request): SessionData {
  // A programming error, not a client's: the route is outside inSessionScope().
  if (req.session === undefined) throw new Error('this route has no session; add it to the session scope');
  return req.session;
}

function stateOf(req: Request) {
  const state = sessionStateOf(req);
  if (state === undefined) throw new Error('this route has no session; add it to the session scope');
  return state;
}
