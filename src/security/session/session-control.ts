import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Session, SessionData } from 'express-session';
import type { AuthenticatedUser } from '../../auth/auth.decorators.js';
import { SessionCookie } from './session-cookie.js';
import './session-data.js';

type RequestSession = Session & Partial<SessionData>;

/**
 * The session transitions the application makes on purpose: starting an anonymous one,
 * login (always a new id) and logout (the key deleted, the cookie cleared). Each waits
 * for the store, so a store failure is the response's failure rather than a silent loss.
 */
@Injectable()
export class SessionControl {
  constructor(private readonly cookie: SessionCookie) {}

  /** Starts the clock of the current session if it has none yet (anonymous, pre-login). */
  begin(req: Request): void {
    sessionOf(req).createdAt ??= Date.now();
  }

  save(req: Request): Promise<void> {
    const current = sessionOf(req);
    return settle(req, (done) => current.save(done));
  }

  /** Login: the old id (and whatever an attacker may have planted) is destroyed first. */
  async establish(req: Request, user: AuthenticatedUser): Promise<void> {
    const previous = sessionOf(req);
    await settle(req, (done) => previous.regenerate(done));
    const fresh = sessionOf(req);
    fresh.createdAt = Date.now();
    fresh.user = user;
    await this.save(req);
    req.user = user;
  }

  async end(req: Request, res: Response): Promise<void> {
    const current = sessionOf(req);
    await settle(req, (done) => current.destroy(done));
    res.clearCookie(this.cookie.name, this.cookie.options);
    delete req.user;
  }
}

/**
 * Runs a store operation; when it fails the request forgets its session, so express-session
 * neither sends a cookie for a session that was never stored nor retries the write at the end.
 */
function settle(req: Request, operation: (done: (error?: unknown) => void) => void): Promise<void> {
  return new Promise((resolve, reject) =>
    operation((error?: unknown) => {
      if (!error) return resolve();
      Reflect.deleteProperty(req, 'session');
      reject(error instanceof Error ? error : new Error(String(error)));
    }),
  );
}

function sessionOf(req: Request): RequestSession {
  const current = (req as Request & { session?: RequestSession }).session;
  // A programming error, not a client's: the route is outside inSessionScope().
  if (current === undefined) throw new Error('this route has no session; add it to the session scope');
  return current;
}
