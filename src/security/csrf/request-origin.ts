import type { Request } from 'express';

/**
 * The origin (scheme://host[:port]) this request was addressed to: `PUBLIC_ORIGIN` when it is
 * configured, otherwise the request's own, where `req.protocol` believes X-Forwarded-Proto and
 * `req.host` X-Forwarded-Host only from a trusted proxy (Express's `trust proxy`, set from
 * TRUSTED_PROXIES). Null when the Host header cannot form an origin.
 */
export function expectedOrigin(req: Request, publicOrigin: string | null): string | null {
  if (publicOrigin !== null) return publicOrigin;
  try {
    return new URL(`${req.protocol}://${req.host}`).origin;
  } catch {
    return null;
  }
}

/** The serialised origin of a URL, or null when it has none (malformed, opaque, `null`). */
function originOf(value: string): string | null {
  try {
    const origin = new URL(value).origin;
    return origin === 'null' ? null : origin;
  } catch {
    return null;
  }
}

/**
 * Why a state-changing request looks cross-site, or null. Browsers label cross-site requests
 * with `Sec-Fetch-Site` and `Origin`; either one is enough to refuse even a request with a
 * valid token. The Origin must equal the expected origin exactly: scheme, host and port, so
 * `https://host:port` or `ws://host:port` against an http service is foreign too. Without an
 * Origin, a Referer from elsewhere is refused the same way. Requests with neither (curl,
 * server-to-server) are judged by the token alone.
 */
export function crossSiteReason(req: Request, publicOrigin: string | null = null): string | null {
  if (req.get('sec-fetch-site')?.toLowerCase() === 'cross-site') return 'Sec-Fetch-Site is cross-site';
  const origin = req.get('origin');
  const referer = origin === undefined ? req.get('referer') : undefined;
  if (origin === undefined && referer === undefined) return null;
  // Sandboxed frames and cross-origin redirects send "null": no origin to trust.
  if (origin === 'null') return 'Origin is opaque (null)';
  const claimed = originOf(origin ?? (referer as string));
  if (claimed === null) return origin !== undefined ? 'Origin is malformed' : 'Referer is malformed';
  const own = expectedOrigin(req, publicOrigin);
  if (own !== null && claimed === own) return null;
  return origin !== undefined ? 'Origin is foreign' : 'Referer is foreign';
}
