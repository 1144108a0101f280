import { Injectable } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { requestContext } from '../../observability/request-context.js';
import { RampartSessionStore } from './rampart-session.store.js';
import { attachSession } from './request-session.js';
import { SessionCookie } from './session-cookie.js';
import { inSessionScope } from './session-scope.js';

/**
 * Loads the session on the paths that have one and identifies the caller: `req.user` is set
 * here, before any guard, so every later layer (authorisation, per-account limits, logging)
 * sees the same user. A request costs one signature check and one read; writes happen only
 * through SessionControl. A store failure is passed on (SESSION_STORE_UNAVAILABLE), never
 * served as an anonymous request.
 */
@Injectable()
export class SessionMiddleware {
  /** The same for one route outside the usual scope (the admin-only API docs in production). */
  readonly identify: (req: Request, next: NextFunction) => void;
  readonly handle: RequestHandler;

  constructor(store: RampartSessionStore, cookie: SessionCookie) {
    const load = async (req: Request, id: string): Promise<void> => {
      const data = await store.load(id);
      if (data === null) {
        attachSession(req, {}, null, true);
        return;
      }
      await store.touch(id, data);
      attachSession(req, data, id);
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
