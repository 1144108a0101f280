import type { Request, Response } from 'express';

// Nest answers unmatched paths from a catch-all route of its own; that is no route of ours.
const CATCH_ALL = new Set(['{/*splat}', '*', '/*', '(.*)']);

interface RouteLayer {
  route?: { path?: unknown; _handlesMethod?: (method: string) => boolean };
  matchers?: Array<(path: string) => unknown>;
}

const RESOLVED = Symbol('rampart.routeTemplate');
type ResolvedRequest = Request & { [RESOLVED]?: string | null };

/**
 * The matched route template (`/api/lots/:id`), never the raw path: metrics get one series
 * per route instead of one per lot id, logs group by route. Null when nothing matched.
 *
 * A request refused before routing (CSRF, session store, host, body parsing) has no matched
 * route yet; its template is looked up in the router's table so its log line and error metric
 * still name the route rather than `unmatched`. Only requests without a route pay for it.
 */
export function routeTemplateOf(req: Request): string | null {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof path === 'string') return CATCH_ALL.has(path) ? null : path;
  const resolved = req as ResolvedRequest;
  if (resolved[RESOLVED] === undefined) resolved[RESOLVED] = lookUpRoute(req);
  return resolved[RESOLVED];
}

function lookUpRoute(req: Request): string | null {
  // Express 5's router: its layers' matchers are pure functions of the path.
  const stack = (req.app as { router?: { stack?: RouteLayer[] } } | undefined)?.router?.stack;
  if (!Array.isArray(stack)) return null;
  const url = req.originalUrl ?? req.url ?? '';
  const q = url.indexOf('?');
  // Undecoded, as the router itself matches it.
  const pathname = q === -1 ? url : url.slice(0, q);
  for (const layer of stack) {
    const template = layer.route?.path;
    if (typeof template !== 'string' || CATCH_ALL.has(template) || !Array.isArray(layer.matchers)) continue;
    if (layer.route?._handlesMethod && !layer.route._handlesMethod(req.method)) continue;
    if (layer.matchers.some((match) => Boolean(match(pathname)))) return template;
  }
  return null;
}

/** What `sendError` (and the health filter) put on the response so the log line and metric name it. */
export interface ErrorCodeLocals {
  errorCode?: string;
}

/**
 * The contract code of a non-2xx answer (what the client got in the envelope), for the access
 * log and `rampart_http_errors_total`. An answer nothing classified says so by its status
 * (`HTTP_404`) rather than borrowing a code it never sent.
 */
export function errorCodeOf(res: Response): string | null {
  if (res.statusCode < 400) return null;
  const code = (res.locals as ErrorCodeLocals | undefined)?.errorCode;
  return typeof code === 'string' ? code : `HTTP_${res.statusCode}`;
}

export function setErrorCode(res: Response, code: string): void {
  if (res.locals) (res.locals as ErrorCodeLocals).errorCode = code;
}
