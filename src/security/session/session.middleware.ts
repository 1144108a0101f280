import { Injectable } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { DbCircuitOpenException, DbInfrastructureException } from '../../core/errors/index.js';
import { requestContext } from '../../observability/request-context.js';
import { ACCOUNT_FRESH_MS, AccountStatus, sessionMismatch } from './account-status.js';
import { toRecord } from '../rate-limit/rate-limit.store.js';
import { recordCountedHit } from '../rate-limit/counted-hit.js';
import { RampartSessionStore } from './rampart-session.store.js';
import type { AccountCount } from './session-backend.js';
import { attachSession } from './request-session.js';
import { SessionCookie } from './session-cookie.js';
import type { SessionData } from './session-data.js';
import { SessionRevocation } from './session-revocation.js';
import { inSessionScope } from './session-scope.js';

/**
 * Loads the session on the paths that have one and identifies the caller: `req.user` is set
 * here, before any guard, so every later layer (authorisation, per-account limits, logging)
 * sees the same user. A request costs one signature check and one read; writes happen only
 * through SessionControl. On the API, with `count` (Redis), that one read also counts the
 * request on its user's per-account budget, and AccountRateLimitGuard only answers for the
 * hit: one Redis round trip per authenticated request. A logged-in session must still match
 * its user's row (not disabled, same role, same password; see AccountStatus): when it does
 * not, every session of that user is revoked and this request is as anonymous as any other
 * whose session ended. A store failure is passed on (SESSION_STORE_UNAVAILABLE), never served
 * as an anonymous request.
 */
@Injectable()
export class SessionMiddleware {
  /** The same for one route outside the usual scope (the admin-only API docs in production). */
  readonly identify: (req: Request, next: NextFunction) => void;
  readonly handle: RequestHandler;

  constructor(
    store: RampartSessionStore,
    cookie: SessionCookie,
    accounts: AccountStatus,
    revocation: SessionRevocation,
    count: AccountCount | null = null,
  ) {
    /** False when the session's user changed since login; the user's sessions are then revoked. */
    const stillValid = async (data: SessionData & { user: NonNullable<SessionData['user']> }): Promise<boolean> =>
      checkAccount(data).catch((error: unknown) => {
        // The database cannot be asked and this worker has no answer for the user yet (it
        // started during the outage): nobody can change the user through the database either,
        // so the session's claims from login stand, as they did before accounts were checked.
        if (error instanceof DbInfrastructureException || error instanceof DbCircuitOpenException) return true;
        throw error;
      });
    const checkAccount = async (data: SessionData & { user: NonNullable<SessionData['user']> }): Promise<boolean> => {
      const userId = data.user.id;
      if (sessionMismatch(data, await accounts.current(userId, ACCOUNT_FRESH_MS)) === null) return true;
      // Confirmed against the database before acting: this worker's remembered row may be
      // older than a login that already carries the new role.
      const cause = sessionMismatch(data, await accounts.current(userId, 0));
      if (cause === null) return true;
      await revocation.revokeUser(userId, cause);
      return false;
    };

    /** The common case, decided without a promise: this worker read the user's row within ACCOUNT_FRESH_MS and it matches. */
    const matchesKnownAccount = (data: SessionData): boolean => {
      if (data.user === undefined) return false;
      const state = accounts.known(data.user.id, ACCOUNT_FRESH_MS);
      return state !== undefined && sessionMismatch(data, state) === null;
    };

    const load = async (req: Request, id: string): Promise<void> => {
      // The same test as the guard's isApiRoute, on the path: the route is not matched yet.
      const { data, hit } = await store.loadCounting(id, count !== null && isApiPath(req.path) ? count : null);
      if (data === null || (data.user !== undefined && !matchesKnownAccount(data) && !(await stillValid({ ...data, user: data.user })))) {
        attachSession(req, {}, null, true);
        return;
      }
      const touching = store.touch(id, data);
      if (touching !== null) await touching;
      attachSession(req, data, id);
      if (hit !== null && count !== null) recordCountedHit(req, { userId: hit.userId, record: toRecord(hit.hits, count.limit, hit.remainingMs) });
      if (data.user !== undefined) {
        req.user = data.user;
        requestContext.setUser(data.user.id);
      }
    };
    this.identify = (req: Request, next: NextFunction) => {
      const id = cookie.idFrom(req.headers.cookie);
      if (id === null) {
        // A cookie that fails its signature names no live session either (e.g. after a
        // SESSION_SECRET rotation); to the client that is the same as an expired one.
        attachSession(req, {}, null, cookie.carriedBy(req.headers.cookie));
        return next();
      }
      load(req, id).then(() => next(), next);
    };
    this.handle = (req: Request, _res: Response, next: NextFunction) => {
      if (!inSessionScope(req.path)) return next();
      this.identify(req, next);
    };
  }
}

/** Express matches routes case-insensitively, so `/API/lots` is an API request too. */
function isApiPath(path: string): boolean {
  return path.length > 5 && path.slice(0, 5).toLowerCase() === '/api/';
}
