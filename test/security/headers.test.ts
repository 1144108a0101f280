import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { rawBytes, rawRequest } from '../support/raw-http.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** `script-src` as a browser reads it: its own directive, else default-src. */
function directives(policy: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const part of policy.split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) map.set(name.toLowerCase(), values);
  }
  return map;
}

describe('security headers and CSP', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('blocks inline script without the nonce on HTML pages: script-src has a fresh nonce per response and no unsafe-inline', async () => {
    const first = await fetch(`${app.url}/login`);
    const second = await fetch(`${app.url}/login`);
    const html = await first.text();
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toMatch(/^text\/html/);

    const policy = first.headers.get('content-security-policy') ?? '';
    const d = directives(policy);
    const scriptSrc = d.get('script-src') ?? [];
    const nonce = /^'nonce-([A-Za-z0-9+/=]+)'$/.exec(scriptSrc[0] ?? '')?.[1];
    expect(nonce).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(scriptSrc).toContain("'strict-dynamic'");
    // Nothing that lets an injected <script> run without the nonce.
    for (const source of [...scriptSrc, ...(d.get('default-src') ?? [])]) {
      expect(["'unsafe-inline'", "'unsafe-eval'", '*', 'data:', 'http:', 'https:']).not.toContain(source);
    }
    expect(d.get('object-src')).toEqual(["'none'"]);
    expect(d.get('base-uri')).toEqual(["'none'"]);
    expect(d.get('frame-ancestors')).toEqual(["'none'"]);
    expect(d.get('report-uri')).toEqual(['/csp-report']);
    expect(d.get('report-to')).toEqual(['csp-endpoint']);
    expect(first.headers.get('reporting-endpoints')).toBe('csp-endpoint="/csp-report"');

    // The page uses this response's nonce, and only it; the next response has another.
    const pageNonces = [...html.matchAll(/nonce="([^"]*)"/g)].map((m) => m[1]);
    expect(pageNonces.every((n) => n === nonce)).toBe(true);
    const secondNonce = /'nonce-([^']+)'/.exec(second.headers.get('content-security-policy') ?? '')?.[1];
    expect(secondNonce).toBeDefined();
    expect(secondNonce).not.toBe(nonce);
  });

  it('sends the API set on JSON responses and errors: a policy that loads, runs and frames nothing, no nonce, no HSTS outside production', async () => {
    for (const path of ['/health/live', '/no/such/route', '/api/auth/csrf', '/assets/src/admin/console/render.js']) {
      const response = await fetch(`${app.url}${path}`);
      await response.arrayBuffer();
      expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('referrer-policy')).toBe('same-origin');
      expect(response.headers.get('cross-origin-resource-policy')).toBe('same-origin');
      expect(response.headers.get('content-security-policy')).toBe("default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none';report-uri /csp-report");
      // What only a rendered document uses.
      expect(response.headers.get('cross-origin-opener-policy')).toBeNull();
      expect(response.headers.get('reporting-endpoints')).toBeNull();
      expect(response.headers.get('strict-transport-security')).toBeNull();
      expect(response.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('gives every HTML page the document set with its nonce policy', async () => {
    for (const path of ['/login', '/api/docs']) {
      const response = await fetch(`${app.url}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await response.text();
      const nonce = /script-src 'nonce-([^']+)'/.exec(response.headers.get('content-security-policy') ?? '')?.[1];
      expect(nonce, path).toMatch(/^[A-Za-z0-9+/]{22}==$/);
      expect(html).toContain(`nonce="${nonce as string}"`);
      expect(response.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(response.headers.get('origin-agent-cluster')).toBe('?1');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('puts no ETag on dynamic answers (never stored, so never revalidated) and keeps it on static assets', async () => {
    for (const path of ['/login', '/health/live', '/api/auth/csrf', '/no/such/route']) {
      const response = await fetch(`${app.url}${path}`);
      await response.arrayBuffer();
      expect(response.headers.get('etag'), path).toBeNull();
    }
    const asset = await fetch(`${app.url}/assets/src/admin/console/render.js`);
    await asset.arrayBuffer();
    expect(asset.status).toBe(200);
    const etag = asset.headers.get('etag');
    expect(etag).toMatch(/^W\/"/);
    // Not fetch: it adds `Cache-Control: no-cache` to a conditional request, which forbids a 304.
    const again = await rawRequest(app.url, { path: '/assets/src/admin/console/render.js', headers: [['if-none-match', etag ?? '']] });
    expect(again.status).toBe(304);
  });

  it('replaces hostile X-Correlation-ID values with a UUID and never echoes them', async () => {
    const script = '<script>alert(1)</script>';
    const huge = 'A'.repeat(10_240);
    const nonLatin1 = '关联-ид-🙂';
    for (const value of [script, huge, rawBytes(nonLatin1), `ok${'\u00e9'}`]) {
      for (const header of ['x-correlation-id', 'x-request-id']) {
        for (const [path, status] of [['/login', 200], ['/no/such/route', 404]] as const) {
          const response = await rawRequest(app.url, { path, headers: [[header, value]] });
          expect(response.status).toBe(status);
          expect(response.headers['x-correlation-id']).toMatch(UUID_V4);
          expect(response.body).not.toContain(script);
          expect(response.body).not.toContain(huge.slice(0, 64));
          expect(response.body).not.toContain(nonLatin1);
        }
      }
    }
    const logs = app.logs.text();
    expect(logs).not.toContain(script);
    expect(logs).not.toContain(huge.slice(0, 64));
    expect(logs).not.toContain(nonLatin1);
    expect(logs).not.toContain(rawBytes(nonLatin1));
  });
});

describe('CSP_MODE=report-only', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ CSP_MODE: 'report-only' });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('sends the same policy as Content-Security-Policy-Report-Only and no enforcing header', async () => {
    const response = await fetch(`${app.url}/login`);
    expect(response.headers.get('content-security-policy')).toBeNull();
    const policy = response.headers.get('content-security-policy-report-only') ?? '';
    expect(policy).toMatch(/script-src 'nonce-[A-Za-z0-9+/]{22}==' 'strict-dynamic'/);
    expect(policy).toContain('report-uri /csp-report');
  });
});
