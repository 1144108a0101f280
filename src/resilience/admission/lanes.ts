import type { IncomingMessage } from 'node:http';

/**
 * `probe`: /health/*, never refused: a 503 on liveness means "restart me", the very outcome
 * shedding exists to prevent, and health payloads are memoised with concurrent misses sharing
 * one computation, so even a probe storm costs little.
 * `priority`: metrics and the operators' console, with their own small budget.
 * `signin`: the login flow. `user`: requests that carry a session cookie. `anonymous`: the rest.
 * `stream`: the long-lived event stream, never counted against the limit.
 */
export type Lane = 'probe' | 'priority' | 'signin' | 'user' | 'anonymous' | 'stream';

export const LANES: readonly Lane[] = ['probe', 'priority', 'signin', 'user', 'anonymous', 'stream'];

// The cookie is only looked at, not verified (that needs the session store, which is the work
// being refused); a forged one buys a place in the preferred queue, nothing more.
const SESSION_COOKIE = /(?:^|;\s*)(?:__Host-)?sid=/;

function startsWithSegment(path: string, prefix: string): boolean {
  return path.startsWith(prefix) && (path.length === prefix.length || path[prefix.length] === '/' || path[prefix.length] === '?');
}

/** From the request line and the Cookie header only: nothing here may cost I/O. */
export function laneOf(req: IncomingMessage): Lane {
  const path = req.url ?? '/';
  if (startsWithSegment(path, '/health')) return 'probe';
  if (startsWithSegment(path, '/metrics') || startsWithSegment(path, '/admin')) return 'priority';
  if (startsWithSegment(path, '/api/events/stream')) return 'stream';
  if (startsWithSegment(path, '/api/auth') || startsWithSegment(path, '/login')) return 'signin';
  const cookie = req.headers.cookie;
  return cookie !== undefined && SESSION_COOKIE.test(cookie) ? 'user' : 'anonymous';
}
