import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import helmet from 'helmet';
import { describe, expect, it } from 'vitest';
import { buildSecurityHeaders, createNonce, cspDirectives, helmetOptions, securityHeadersMiddleware } from './security-headers.js';

function run(middleware: (req: IncomingMessage, res: ServerResponse, next: () => void) => void) {
  const req = new IncomingMessage(new Socket());
  const res = Object.assign(new ServerResponse(req), { locals: {} as Record<string, unknown> });
  middleware(req, res, () => {});
  return res;
}

describe(buildSecurityHeaders.name, () => {
  it('sets exactly what helmet would, with the CSP nonce filled in per response', () => {
    const options = { cspMode: 'enforce' as const, hsts: true };
    const ours = run(securityHeadersMiddleware(buildSecurityHeaders(options)));
    const nonce = ours.locals.cspNonce as string;

    const reference = run(helmet({ ...helmetOptions(options), contentSecurityPolicy: { useDefaults: false, directives: cspDirectives(nonce) } }));
    const expected = { ...reference.getHeaders(), 'reporting-endpoints': 'csp-endpoint="/csp-report"' };
    expect(ours.getHeaders()).toEqual(expected);
  });

  it('builds the contract policy: nonce and strict-dynamic for scripts, no unsafe-inline, reports', () => {
    const res = run(securityHeadersMiddleware(buildSecurityHeaders({ cspMode: 'enforce', hsts: false })));
    const nonce = res.locals.cspNonce as string;
    expect(res.getHeader('Content-Security-Policy')).toBe(
      `default-src 'self';script-src 'nonce-${nonce}' 'strict-dynamic';style-src 'self' 'nonce-${nonce}';object-src 'none';` +
        `base-uri 'none';frame-ancestors 'none';form-action 'self';img-src 'self' data:;connect-src 'self';` +
        'report-uri /csp-report;report-to csp-endpoint',
    );
    expect(res.getHeader('Strict-Transport-Security')).toBeUndefined();
    expect(res.getHeader('X-Frame-Options')).toBe('DENY');
  });

  it('uses the Report-Only header in report-only mode', () => {
    const res = run(securityHeadersMiddleware(buildSecurityHeaders({ cspMode: 'report-only', hsts: false })));
    expect(res.getHeader('Content-Security-Policy')).toBeUndefined();
    expect(res.getHeader('Content-Security-Policy-Report-Only')).toContain(`'nonce-${res.locals.cspNonce as string}'`);
  });

  it('sends HSTS when asked (production)', () => {
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
