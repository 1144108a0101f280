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
  /** Header name/value pairs for every response, the API policy `API_CSP` included. */
  readonly fixed: ReadonlyArray<readonly [string, string]>;
  /** Pairs an HTML document adds (see `DOCUMENT_ONLY`); its nonce policy replaces `API_CSP`. */
  readonly document: ReadonlyArray<readonly [string, string]>;
  readonly cspHeader: 'Content-Security-Policy' | 'Content-Security-Policy-Report-Only';
  /** The document policy for one nonce. */
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

/**
 * What a response that is not an HTML document (JSON, errors, health, metrics, scripts) may do if
 * a browser renders it anyway: load nothing, run nothing, be framed by no one (`base-uri` and
 * `form-action` do not fall back to default-src). Violations are reported, so a page that forgot
 * `cspNonceFor` shows up in the reports of a `CSP_MODE=report-only` rollout.
 */
export const API_CSP = `default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none';report-uri ${CSP_REPORT_PATH}`;

/**
 * Helmet's headers that only mean something on a document a browser renders: the browsing
 * context (opener, agent cluster), prefetching, and legacy ones (IE's download prompt, Flash
 * and Acrobat policy files, the retired XSS auditor). Every response keeps nosniff, framing
 * denial, Referrer-Policy, CORP (no cross-origin reads of our JSON) and HSTS. Sending these
 * on every JSON answer cost the API path about a tenth of its throughput (issue 17).
 */
const DOCUMENT_ONLY = new Set([
  'cross-origin-opener-policy',
  'origin-agent-cluster',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
]);

/** Computed once at startup; only a document's nonce differs between responses. */
export function buildSecurityHeaders(options: SecurityHeaderOptions): SecurityHeaders {
  const helmetHeaders = record(helmet(helmetOptions(options)) as Middleware);
  const [[cspHeader, template]] = record(
    helmet.contentSecurityPolicy({ useDefaults: false, reportOnly: options.cspMode === 'report-only', directives: cspDirectives(NONCE_SLOT) }) as Middleware,
  ) as [[SecurityHeaders['cspHeader'], string]];
  const fixed = helmetHeaders.filter(([name]) => !DOCUMENT_ONLY.has(name.toLowerCase()));
  fixed.push([cspHeader, API_CSP]);
  const document = helmetHeaders.filter(([name]) => DOCUMENT_ONLY.has(name.toLowerCase()));
  document.push(['Reporting-Endpoints', `${CSP_REPORT_GROUP}="${CSP_REPORT_PATH}"`]);
  const parts = template.split(NONCE_SLOT);
  return { fixed, document, cspHeader, csp: (nonce) => parts.join(nonce) };
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

/**
 * Where the middleware leaves the headers a document adds, for `cspNonceFor`: in Express's
 * per-request `res.locals`. Not on the response itself: a property added to every
 * ServerResponse after Express has swapped its prototype cost the JSON route 7% of its
 * throughput (ab-json.mjs), which is what the API set was meant to save.
 */
const DOCUMENT_HEADERS = Symbol('documentHeaders');
const NONCE = Symbol('cspNonce');
type DocumentLocals = { [DOCUMENT_HEADERS]?: SecurityHeaders; [NONCE]?: string };
type WithLocals = { locals?: DocumentLocals };

/**
 * Sets the headers every response carries, CSP `API_CSP` among them. An HTML renderer turns its
 * response into a document with `cspNonceFor`; a page that forgets gets `API_CSP`, so its
 * scripts do not run (a visible failure, never a weaker policy).
 */
export function securityHeadersMiddleware(headers: SecurityHeaders): Middleware {
  const { fixed } = headers;
  return (_req, res, next) => {
    for (const [name, value] of fixed) res.setHeader(name, value);
    const locals = (res as ServerResponse & WithLocals).locals;
    if (locals) locals[DOCUMENT_HEADERS] = headers;
    next();
  };
}

/**
 * For an HTML answer: adds the document headers and the contract's policy with a fresh nonce
 * (replacing `API_CSP`) and returns that nonce, to be put on every inline `<script>`/`<style>`
 * and the entry `<script src>`. The same nonce for repeated calls on one response; null when the
 * middleware did not run (a renderer's unit test).
 */
export function cspNonceFor(res: ServerResponse): string | null {
  const locals = (res as ServerResponse & WithLocals).locals;
  if (locals === undefined) return null;
  const existing = locals[NONCE];
  if (existing !== undefined) return existing;
  const headers = locals[DOCUMENT_HEADERS];
  if (headers === undefined) return null;
  // Otherwise setHeader would throw halfway through the document headers.
  if (res.headersSent) throw new Error('cspNonceFor: the response headers are already sent');
  const nonce = createNonce();
  for (const [name, value] of headers.document) res.setHeader(name, value);
  res.setHeader(headers.cspHeader, headers.csp(nonce));
  locals[NONCE] = nonce;
  return nonce;
}
