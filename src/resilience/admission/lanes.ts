import type { IncomingMessage } from 'node:http';

/**
 * `priority`: probes, metrics and the operators' console, with their own budget.
 * `signin`: the login flow. `user`: requests that carry a session cookie. `anonymous`: the rest.
 * `stream`: the long-lived event stream, never counted against the limit.
 */
export type Lane = 'priority' | 'signin' | 'user' | 'anonymous' | 'stream';

export const LANES: readonly Lane[] = ['priority', 'signin', 'user', 'anonymous', 'stream'];

// The cookie is only looked at, not verified (that needs the session store, which is the work
// being refused); a forged one buys a place in the preferred queue, nothing more.
const SESSION_COOKIE = /(?:^|;\s*)(?:__Host-)?sid=/;

function startsWithSegment(path: string, prefix: string): boolean {
  return path.startsWith(prefix) && (path.length === prefix.length || path[prefix.length] === '/' || path[prefix.length] === '?');
}

/** From the request line and the Cookie header only: nothing here may cost I/O. */
export function laneOf(req: IncomingMessage): Lane {
  const path = req.url ?? '/';
  if (startsWithSegment(path, '/health') || startsWithSegment(path, '/metrics') || startsWithSegment(path, '/admin')) return 'priority';
  if (startsWithSegment(path, '/api/events/stream')) return 'stream';
  if (startsWithSegment(path, '/api/auth') || startsWithSegment(path, '/login')) return 'signin';
  const cookie = req.headers.cookie;
  return cookie !== undefined && SESSION_COOKIE.test(cookie) ? 'user' : 'anonymous';
}
