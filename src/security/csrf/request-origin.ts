import type { Request } from 'express';

/**
 * Why a state-changing request looks cross-site, or null. Browsers label cross-site
 * requests with `Sec-Fetch-Site` and `Origin`; either one is enough to refuse even a request
 * with a valid token. Requests with neither (curl, server-to-server) are judged by the token
 * alone. The expected host is the request's own (`req.host`: the Host header, or
 * X-Forwarded-Host from a trusted proxy).
 */
export function crossSiteReason(req: Request): string | null {
  if (req.get('sec-fetch-site')?.toLowerCase() === 'cross-site') return 'Sec-Fetch-Site is cross-site';
  const origin = req.get('origin');
  if (origin === undefined) return null;
  // Sandboxed frames and cross-origin redirects send "null": no origin to trust.
  if (origin === 'null') return 'Origin is opaque (null)';
  let originUrl: URL;
  let ownUrl: URL;
  try {
    originUrl = new URL(origin);
    ownUrl = new URL(`${originUrl.protocol}//${req.host}`);
  } catch {
    return 'Origin is malformed';
  }
  return originUrl.host === ownUrl.host ? null : 'Origin is foreign';
}
