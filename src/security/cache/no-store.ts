import type { NextFunction, Request, Response } from 'express';
import { inSessionScope } from '../session/session-scope.js';

/** The API docs: in production they are admin-only, so they depend on the session too. */
function isApiDocs(path: string): boolean {
  const p = path.toLowerCase();
  return p === '/api/docs' || p === '/api/docs/' || p === '/api/docs-json' || p === '/api/docs-json/';
}

/**
 * `Cache-Control: no-store` and `Vary: Cookie` on every response of a session-bearing path (the
 * API, the admin console, the login page, the docs), errors included, since it is set before
 * anything can fail: what one user saw must never be kept by a browser or a shared cache and
 * shown to the next. Health, metrics and static assets set their own caching.
 */
export function sessionCacheHeaders(req: Request, res: Response, next: NextFunction): void {
  // req.path, as routing sees it: an absolute-form target (`GET http://x/api/lots`) included.
  const path = req.path;
  if (inSessionScope(path) || isApiDocs(path)) {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Vary', 'Cookie');
  }
  next();
}
