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
  const authenticated = data.user !== undefined;
  const idleMs = (authenticated ? timeouts.idleTimeoutS : timeouts.anonymousTimeoutS) * 1000;
  const absoluteMs = (authenticated ? timeouts.absoluteTimeoutS : timeouts.anonymousTimeoutS) * 1000;
  return Math.min(idleMs, data.createdAt + absoluteMs - now);
}
