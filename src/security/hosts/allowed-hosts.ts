import { isIP } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { normalizeAddress } from '../ip/client-ip.js';
import type { TrustFn } from '../ip/trusted-proxies.js';
import { MisdirectedHostException } from './misdirected-host.exception.js';

type Next = (error?: unknown) => void;

const HOST_WITH_PORT = /^([^:[\]]+)(?::\d{1,5})?$/;
const BRACKETED = /^\[([^\]]+)\](?::\d{1,5})?$/;

/**
 * Whether a `Host` (or `X-Forwarded-Host`) value names this service: an IP literal (IPv4, or
 * bracketed IPv6, with or without a port) is always served, so probes and scrapes by address
 * work; a name only when it is in the list (case-insensitive, a trailing dot ignored, any port).
 * An absent, empty or malformed value is not served.
 */
export function hostServed(value: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (value === undefined) return false;
  const host = value.trim();
  if (host.length === 0 || host.length > 260) return false;
  const bracketed = BRACKETED.exec(host);
  if (bracketed) return isIP(bracketed[1] as string) === 6;
  const match = HOST_WITH_PORT.exec(host);
  if (!match) return false;
  const name = (match[1] as string).toLowerCase().replace(/\.$/, '');
  return isIP(name) === 4 || allowed.has(name);
}

/**
 * Refuses, before routing, a request for a host name this service does not serve: the defence
 * against DNS rebinding, where a page on `rebind.evil.example` re-points its name at 127.0.0.1
 * (or a pod address) and reads /metrics, /health/deep or the docs as a same-origin page. The
 * Host header is always checked; X-Forwarded-Host only counts when a trusted proxy sent it
 * (as Express reads it for req.host), and then every entry must be served too, since a
 * rebound page may add that header itself.
 */
export function allowedHostsMiddleware(allowedHosts: readonly string[], trust: TrustFn) {
  const allowed = new Set(allowedHosts);
  return (req: IncomingMessage, _res: ServerResponse, next: Next): void => {
    if (!hostServed(req.headers.host, allowed)) return next(new MisdirectedHostException());
    const forwarded = req.headers['x-forwarded-host'];
    if (forwarded === undefined) return next();
    const peer = normalizeAddress(req.socket?.remoteAddress);
    if (peer === null || !trust(peer, 0)) return next();
    for (const entry of (Array.isArray(forwarded) ? forwarded.join(',') : forwarded).split(',')) {
      if (!hostServed(entry, allowed)) return next(new MisdirectedHostException());
    }
    next();
  };
}
