import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import session from 'express-session';
import type { RampartConfig } from '../../config/rampart-config.js';
import { requestContext } from '../../observability/request-context.js';
import { RampartSessionStore } from './rampart-session.store.js';
import { SessionCookie } from './session-cookie.js';
import { inSessionScope } from './session-scope.js';
import { SessionStoreUnavailableException } from './session-store-unavailable.exception.js';

/**
 * express-session on the paths that need it, followed by identifying the caller: `req.user`
 * is set here, before any guard, so every later layer (authorisation, per-account limits,
 * logging) sees the same user.
 */
@Injectable()
export class SessionMiddleware {
  readonly handle: RequestHandler;

  constructor(store: RampartSessionStore, cookie: SessionCookie, @Inject(ConfigService) config: ConfigService<RampartConfig, true>) {
    const expressSession = session({
      name: cookie.name,
      secret: config.get('security', { infer: true }).sessionSecret,
      store,
      resave: false,
      // Only sessions that hold something (a CSRF token, a user) are stored and get a cookie.
      saveUninitialized: false,
      rolling: false,
      cookie: cookie.options,
    });
    this.handle = (req: Request, res: Response, next: NextFunction) => {
      if (!inSessionScope(req.path)) return next();
      expressSession(req, res, (error?: unknown) => {
        if (error !== undefined) return next(error);
        // express-session skips sessions when its store reports a disconnect; ours never
        // does, but if that ever changed this refuses instead of serving anonymously.
        if (req.session === undefined) return next(new SessionStoreUnavailableException());
        const user = req.session.user;
        if (user !== undefined) {
          req.user = user;
          requestContext.setUser(user.id);
        }
        next();
      });
    };
  }
}
