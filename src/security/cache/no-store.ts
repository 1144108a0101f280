import type { IncomingMessage, ServerResponse } from 'node:http';
import { inSessionScope } from '../session/session-scope.js';

type Next = (error?: unknown) => void;

/** The API docs: in production they are admin-only, so they depend on the session too. */
function isApiDocs(path: string): boolean {
  const p = path.toLowerCase();
  return p === '/api/docs' || p === '/api/docs/' || p === '/api/docs-json' || p === '/api/docs-json/';
}

function pathOf(url: string | undefined): string {
  const raw = url ?? '/';
  const query = raw.indexOf('?');
  return query === -1 ? raw : raw.slice(0, query);
}

/**
 * `Cache-Control: no-store` and `Vary: Cookie` on every response of a session-bearing path (the
 * API, the admin console, the login page, the docs), errors included, since it is set before
 * anything can fail: what one user saw must never be kept by a browser or a shared cache and
 * shown to the next. Health, metrics and static assets set their own caching.
 */
export function sessionCacheHeaders(req: IncomingMessage, res: ServerResponse, next: Next): void {
  const path = pathOf(req.url);
  if (inSessionScope(path) || isApiDocs(path)) {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Vary', 'Cookie');
  }
  next();
}
