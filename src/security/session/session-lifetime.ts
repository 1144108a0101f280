import type { SecurityConfig } from '../../config/rampart-config.js';
import type { SessionData } from './session-data.js';

export type SessionTimeouts = Pick<SecurityConfig, 'idleTimeoutS' | 'absoluteTimeoutS' | 'anonymousTimeoutS'>;

/**
 * How long a session may still live, in milliseconds (zero or less: it has expired).
 * The store uses this as the key's TTL on every write and touch, so idle expiry slides with
 * use while the absolute deadline never moves. Anonymous sessions only exist to carry the
 * login CSRF token, so both their limits are the short anonymous timeout.
 */
export function remainingLifetimeMs(data: SessionData, timeouts: SessionTimeouts, now: number): number {
  if (typeof data.createdAt !== 'number' || !Number.isFinite(data.createdAt)) return 0;
  const idleMs = (data.user !== undefined ? timeouts.idleTimeoutS : timeouts.anonymousTimeoutS) * 1000;
  return Math.min(idleMs, data.createdAt + absoluteTimeoutMs(data, timeouts) - now);
}

/** The session's absolute timeout: the anonymous one, or the configured one unless the session carries a shorter one. */
export function absoluteTimeoutMs(data: SessionData, timeouts: SessionTimeouts): number {
  if (data.user === undefined) return timeouts.anonymousTimeoutS * 1000;
  const own = typeof data.maxLifetimeS === 'number' && data.maxLifetimeS > 0 ? data.maxLifetimeS : Infinity;
  return Math.min(timeouts.absoluteTimeoutS, own) * 1000;
}
