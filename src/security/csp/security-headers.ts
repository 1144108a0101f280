import { randomFillSync } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';
import type { EnforceMode } from '../../config/rampart-config.js';

export const CSP_REPORT_PATH = '/csp-report';
export const CSP_REPORT_GROUP = 'csp-endpoint';

export interface SecurityHeaderOptions {
  cspMode: EnforceMode;
  /** Strict-Transport-Security; production only (TLS is terminated in front of us there). */
  hsts: boolean;
}

export interface SecurityHeaders {
  /** Header name/value pairs that are the same on every response. */
  readonly fixed: ReadonlyArray<readonly [string, string]>;
  readonly cspHeader: 'Content-Security-Policy' | 'Content-Security-Policy-Report-Only';
  /** The policy for one nonce. */
  csp(nonce: string): string;
}

type Next = (error?: unknown) => void;
type Middleware = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

/** Stands in for a nonce while helmet validates and serialises the policy once. */
const NONCE_SLOT = 'RAMPARTNONCESLOT';

/**
 * The policy of CONTRACT.md: scripts only with this response's nonce (`'strict-dynamic'` lets
 * them load what they need; no `'unsafe-inline'`), no plugins, no `<base>`, no framing.
 */
export function cspDirectives(nonce: string): Record<string, string[]> {
  return {
    defaultSrc: ["'self'"],
    scriptSrc: [`'nonce-${nonce}'`, "'strict-dynamic'"],
    styleSrc: ["'self'", `'nonce-${nonce}'`],
    objectSrc: ["'none'"],
    baseUri: ["'none'"],
    frameAncestors: ["'none'"],
    formAction: ["'self'"],
    imgSrc: ["'self'", 'data:'],
    connectSrc: ["'self'"],
    reportUri: [CSP_REPORT_PATH],
    reportTo: [CSP_REPORT_GROUP],
  };
}

/** Helmet's options for everything but CSP, which is assembled per response. */
export function helmetOptions(options: SecurityHeaderOptions): HelmetOptions {
  return {
    contentSecurityPolicy: false,
    strictTransportSecurity: options.hsts ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    // Agrees with frame-ancestors 'none' for browsers that predate CSP level 2.
    xFrameOptions: { action: 'deny' },
    // Not `no-referrer`: with it Chromium sends `Origin: null` on same-origin form posts (the
    // login form, the console's restart form), which the CSRF Origin check rightly refuses.
    // `same-origin` still sends no referrer to any other site.
    referrerPolicy: { policy: 'same-origin' },
  };
}

/**
 * Runs a helmet middleware once against a recorder and returns the headers it set. Helmet
 * works out every value when the middleware is built and only calls setHeader per request,
 * so recording it once gives exactly its output without its per-request chain of calls.
 */
function record(middleware: Middleware): Array<[string, string]> {
  const headers: Array<[string, string]> = [];
  const recorder = {
    setHeader(name: string, value: unknown) {
      headers.push([name, String(value)]);
    },
    removeHeader() {},
  } as unknown as ServerResponse;
  let done = false;
  middleware({} as IncomingMessage, recorder, (error) => {
    if (error) throw error instanceof Error ? error : new Error(String(error));
    done = true;
  });
  // A helmet that became asynchronous would leave the recording incomplete: refuse to start.
  if (!done) throw new Error('helmet did not finish synchronously; security headers cannot be precomputed');
  return headers;
}

/** Computed once at startup; only the nonce differs between responses. */
export function buildSecurityHeaders(options: SecurityHeaderOptions): SecurityHeaders {
  const fixed = record(helmet(helmetOptions(options)) as Middleware);
  fixed.push(['Reporting-Endpoints', `${CSP_REPORT_GROUP}="${CSP_REPORT_PATH}"`]);
  const [[cspHeader, template]] = record(
    helmet.contentSecurityPolicy({ useDefaults: false, reportOnly: options.cspMode === 'report-only', directives: cspDirectives(NONCE_SLOT) }) as Middleware,
  ) as [[SecurityHeaders['cspHeader'], string]];
  const parts = template.split(NONCE_SLOT);
  return { fixed, cspHeader, csp: (nonce) => parts.join(nonce) };
}

const NONCE_BYTES = 16;
const POOL_BYTES = NONCE_BYTES * 256;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let poolOffset = POOL_BYTES;

/**
 * 128 random bits, base64 (as `randomBytes(16).toString('base64')`). Drawn from a pool refilled
 * by the CSPRNG 256 nonces at a time, as Node does for randomUUID; each slice is used once.
 */
export function createNonce(): string {
  if (poolOffset >= POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const nonce = pool.toString('base64', poolOffset, poolOffset + NONCE_BYTES);
  poolOffset += NONCE_BYTES;
  return nonce;
}

export type NonceLocals = { locals?: Record<string, unknown> };

/**
 * Sets the fixed headers and a CSP with a fresh nonce on every response, and exposes the nonce
 * as `res.locals.cspNonce` for HTML renderers (`<script nonce="...">`). JSON responses carry
 * the same policy; it is harmless there and spares guessing the content type up front.
 */
export function securityHeadersMiddleware(headers: SecurityHeaders): Middleware {
  const { fixed, cspHeader } = headers;
  return (_req, res, next) => {
    for (const [name, value] of fixed) res.setHeader(name, value);
    const nonce = createNonce();
    res.setHeader(cspHeader, headers.csp(nonce));
    const locals = (res as ServerResponse & NonceLocals).locals;
    if (locals) locals.cspNonce = nonce;
    next();
  };
}
