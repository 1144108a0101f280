import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import helmet from 'helmet';
import { describe, expect, it } from 'vitest';
import { API_CSP, buildSecurityHeaders, createNonce, cspDirectives, cspNonceFor, helmetOptions, securityHeadersMiddleware } from './security-headers.js';

function run(middleware: (req: IncomingMessage, res: ServerResponse, next: () => void) => void) {
  const req = new IncomingMessage(new Socket());
  // Express gives every response its own locals.
  const res = Object.assign(new ServerResponse(req), { locals: Object.create(null) as Record<string, unknown> });
  middleware(req, res, () => {});
  return res;
}

describe(buildSecurityHeaders.name, () => {
  it('sets exactly what helmet would once a renderer asks for the nonce, and the API set before that', () => {
    const options = { cspMode: 'enforce' as const, hsts: true };
    const ours = run(securityHeadersMiddleware(buildSecurityHeaders(options)));
    const api = ours.getHeaders();
    const nonce = cspNonceFor(ours) as string;

    const reference = run(helmet({ ...helmetOptions(options), contentSecurityPolicy: { useDefaults: false, directives: cspDirectives(nonce) } }));
    const expected = { ...reference.getHeaders(), 'reporting-endpoints': 'csp-endpoint="/csp-report"' };
    expect(ours.getHeaders()).toEqual(expected);
    // Before: everything but the document-only headers, and the API policy.
    const documentOnly = ['cross-origin-opener-policy', 'origin-agent-cluster', 'x-dns-prefetch-control', 'x-download-options', 'x-permitted-cross-domain-policies', 'x-xss-protection', 'reporting-endpoints'];
    const { 'content-security-policy': _documentPolicy, ...rest } = expected;
    expect(api).toEqual({ ...Object.fromEntries(Object.entries(rest).filter(([name]) => !documentOnly.includes(name))), 'content-security-policy': API_CSP });
  });

  it('gives every response the API set: nothing loads, runs or frames it; nosniff, CORP, no nonce', () => {
    const res = run(securityHeadersMiddleware(buildSecurityHeaders({ cspMode: 'enforce', hsts: false })));
    expect(res.getHeader('Content-Security-Policy')).toBe("default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none';report-uri /csp-report");
    expect(res.getHeader('X-Content-Type-Options')).toBe('nosniff');
    expect(res.getHeader('X-Frame-Options')).toBe('DENY');
    expect(res.getHeader('Cross-Origin-Resource-Policy')).toBe('same-origin');
    expect(res.getHeader('Referrer-Policy')).toBe('same-origin');
    expect(res.getHeader('Cross-Origin-Opener-Policy')).toBeUndefined();
    expect(res.getHeader('Reporting-Endpoints')).toBeUndefined();
  });

  it('builds the contract policy for a document: nonce and strict-dynamic for scripts, no unsafe-inline, reports', () => {
    const res = run(securityHeadersMiddleware(buildSecurityHeaders({ cspMode: 'enforce', hsts: false })));
    const nonce = cspNonceFor(res) as string;
    expect(res.getHeader('Content-Security-Policy')).toBe(
      `default-src 'self';script-src 'nonce-${nonce}' 'strict-dynamic';style-src 'self' 'nonce-${nonce}';object-src 'none';` +
        `base-uri 'none';frame-ancestors 'none';form-action 'self';img-src 'self' data:;connect-src 'self';` +
        'report-uri /csp-report;report-to csp-endpoint',
    );
    expect(res.getHeader('Strict-Transport-Security')).toBeUndefined();
    expect(res.getHeader('X-Frame-Options')).toBe('DENY');
    expect(res.getHeader('Cross-Origin-Opener-Policy')).toBe('same-origin');
  });

  it('gives one nonce per response however often asked, another on the next; none without the middleware', () => {
    const headers = buildSecurityHeaders({ cspMode: 'enforce', hsts: false });
    const first = run(securityHeadersMiddleware(headers));
    const nonce = cspNonceFor(first);
    expect(nonce).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(cspNonceFor(first)).toBe(nonce);
    expect(first.getHeader('Content-Security-Policy')).toContain(`'nonce-${nonce as string}'`);
    expect(cspNonceFor(run(securityHeadersMiddleware(headers)))).not.toBe(nonce);
    expect(cspNonceFor(run(() => {}))).toBeNull();
  });

  it('refuses to make a document of a response whose headers are already sent, rather than fail halfway', () => {
    const res = run(securityHeadersMiddleware(buildSecurityHeaders({ cspMode: 'enforce', hsts: false })));
    res.writeHead(200);
    expect(() => cspNonceFor(res)).toThrow(/already sent/);
  });

  it('uses the Report-Only header in report-only mode, for both policies', () => {
    const res = run(securityHeadersMiddleware(buildSecurityHeaders({ cspMode: 'report-only', hsts: false })));
    expect(res.getHeader('Content-Security-Policy')).toBeUndefined();
    expect(res.getHeader('Content-Security-Policy-Report-Only')).toBe(API_CSP);
    const nonce = cspNonceFor(res) as string;
    expect(res.getHeader('Content-Security-Policy')).toBeUndefined();
    expect(res.getHeader('Content-Security-Policy-Report-Only')).toContain(`'nonce-${nonce}'`);
  });

  it('sends HSTS on every response when asked (production)', () => {
    const res = run(securityHeadersMiddleware(buildSecurityHeaders({ cspMode: 'enforce', hsts: true })));
    expect(res.getHeader('Strict-Transport-Security')).toBe('max-age=31536000; includeSubDomains');
  });
});

describe(createNonce.name, () => {
  it('gives 128-bit base64 nonces that do not repeat across pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i += 1) {
      const nonce = createNonce();
      expect(nonce).toMatch(/^[A-Za-z0-9+/]{22}==$/);
      seen.add(nonce);
    }
    expect(seen.size).toBe(2000);
  });
});
