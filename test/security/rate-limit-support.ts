import type { TestApp } from '../support/app.js';
import { rawRequest, type RawResponse } from '../support/raw-http.js';
import { anonymousSession } from '../support/session.js';

export interface LimitState {
  remaining: number;
  resetS: number;
}

/** The `RateLimit` item of one policy (`"login";r=3;t=42`), or null when absent. */
export function limitState(response: RawResponse | Response, policy: string): LimitState | null {
  const raw = response instanceof Response ? response.headers.get('ratelimit') : response.headers.ratelimit;
  const value = Array.isArray(raw) ? raw.join(', ') : (raw ?? '');
  const match = new RegExp(`"${policy}";r=(\\d+);t=(\\d+)`).exec(value);
  return match ? { remaining: Number(match[1]), resetS: Number(match[2]) } : null;
}

/**
 * One login attempt as a browser makes it (pre-session CSRF token, then the POST), sent with
 * the given X-Forwarded-For header lines. Wrong password unless one is given.
 */
export async function loginAttempt(
  app: Pick<TestApp, 'url'>,
  forwardedFor: string[] = [],
  credentials: { username: string; password: string } = { username: 'admin', password: 'not-the-password' },
): Promise<RawResponse> {
  const pre = await anonymousSession(app.url);
  const headers: Array<[string, string]> = Object.entries(pre.headers());
  for (const value of forwardedFor) headers.push(['x-forwarded-for', value]);
  return rawRequest(app.url, { method: 'POST', path: '/api/auth/login', headers, body: JSON.stringify(credentials) });
}
