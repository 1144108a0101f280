import { createHash, timingSafeEqual } from 'node:crypto';
import { normalizeAddress } from './client-ip.js';
import type { TrustFn } from './trusted-proxies.js';

export interface PeerRequest {
  /** The socket's remote address, not `req.ip`: who actually connected. */
  peer: string | undefined;
  forwardedFor: string | string[] | undefined;
  authorization: string | undefined;
}

export interface TrustedPeerPolicy {
  trust: TrustFn;
  /** `METRICS_TOKEN`; null when unset, and then only the network rule applies. */
  token: string | null;
}

const LOOPBACK_V4 = /^127\./;

function isLoopback(address: string): boolean {
  return address === '::1' || LOOPBACK_V4.test(address);
}

/**
 * Every hop of the request is loopback or a trusted proxy: the socket peer and each
 * X-Forwarded-For entry. A scrape that came through the ingress on behalf of someone on the
 * internet names that someone in X-Forwarded-For, so it is refused even though the ingress
 * itself is trusted; a malformed entry is refused too.
 */
export function isTrustedPeer(request: Pick<PeerRequest, 'peer' | 'forwardedFor'>, trust: TrustFn): boolean {
  const peer = normalizeAddress(request.peer);
  if (peer === null || !(isLoopback(peer) || trust(peer, 0))) return false;
  const header = Array.isArray(request.forwardedFor) ? request.forwardedFor.join(',') : request.forwardedFor;
  if (!header) return true;
  const entries = header.split(',');
  for (let i = entries.length - 1; i >= 0; i -= 1) {
    const entry = entries[i] as string;
    if (entry.trim() === '') continue;
    const address = normalizeAddress(entry);
    if (address === null || !(isLoopback(address) || trust(address, entries.length - i))) return false;
  }
  return true;
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * `Authorization: Bearer <token>` equals the configured token. Both sides are hashed first so
 * the comparison is constant-time and does not leak the token's length either.
 */
export function bearerMatches(authorization: string | undefined, token: string | null): boolean {
  if (token === null || authorization === undefined) return false;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
  if (!match) return false;
  return timingSafeEqual(digest(match[1] as string), digest(token));
}

/**
 * The access rule of CONTRACT.md "Metrics": loopback or `TRUSTED_PROXIES` peers, or the
 * `METRICS_TOKEN` bearer when one is configured.
 */
export function metricsAccessAllowed(request: PeerRequest, policy: TrustedPeerPolicy): boolean {
  // Evaluate both so the answer takes the same path whichever rule would have let it in.
  const byToken = bearerMatches(request.authorization, policy.token);
  const byNetwork = isTrustedPeer(request, policy.trust);
  return byToken || byNetwork;
}
