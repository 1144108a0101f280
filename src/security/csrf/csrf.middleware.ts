import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { RampartConfig } from '../../config/rampart-config.js';
import { ROOT_LOGGER } from '../../observability/observability.tokens.js';
import { sessionLost } from '../session/request-session.js';
import { inSessionScope } from '../session/session-scope.js';
import { deferCsrfRefusal, markCsrfChecked, SAFE_METHODS } from './csrf-checked.js';
import { CsrfInvalidException } from './csrf.exceptions.js';
import { CsrfTokens } from './csrf-tokens.js';
import { crossSiteReason } from './request-origin.js';

export const CSRF_WOULD_BLOCK_HEADER = 'X-CSRF-Would-Block';

/**
 * Every request with a method other than GET, HEAD or OPTIONS on a session-bearing path
 * (login included) must come from this site and carry the session's token. The method is
 * the one on the wire: no method-override middleware is installed, so neither
 * `X-HTTP-Method-Override` nor `_method` can turn a POST into something this skips.
 * `CSRF_MODE=report-only` logs and flags what enforce would refuse, for a safe rollout.
 * A request whose cookie names no live session is refused after the access guard, not here.
 */
@Injectable()
export class CsrfMiddleware {
  readonly handle: RequestHandler;

  constructor(
    tokens: CsrfTokens,
    @Inject(ConfigService) config: ConfigService<RampartConfig, true>,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    const { csrfMode, publicOrigin } = config.get('security', { infer: true });
    const reportOnly = csrfMode === 'report-only';
    this.handle = (req: Request, res: Response, next: NextFunction) => {
      if (SAFE_METHODS.has(req.method) || !inSessionScope(req.path)) return next();
      markCsrfChecked(req);
      const reason = crossSiteReason(req, publicOrigin) ?? (tokens.verify(req) ? null : 'missing or invalid CSRF token');
      if (reason === null) return next();
      const log = req.log ?? logger;
      // The path without its query string: routes are not matched yet at this point.
      const where = { method: req.method, path: req.path, reason };
      if (reportOnly) {
        res.setHeader(CSRF_WOULD_BLOCK_HEADER, '1');
        log.warn(where, 'CSRF check failed; let through because CSRF_MODE=report-only');
        return next();
      }
      if (sessionLost(req)) {
        // No live session: whatever the route does, it does it unauthenticated. The access
        // guard answers 401 on routes that need a session, so the client signs in again
        // instead of fetching a token for a session that no longer exists; on public routes
        // (login) the coverage guard still refuses. See CsrfCoverageGuard.
        log.info(where, 'CSRF check refused a request whose session is gone; the guards answer');
        deferCsrfRefusal(req);
        return next();
      }
      log.info(where, 'CSRF check refused the request');
      next(new CsrfInvalidException());
    };
  }
}
