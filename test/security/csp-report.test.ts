import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CSP_REPORTS_PER_MIN } from '../../src/security/rate-limit/rate-limit.policies.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { anonymousSession } from '../support/session.js';

const legacyReport = {
  'csp-report': {
    'document-uri': 'http://127.0.0.1/login?next=%2Fadmin',
    'violated-directive': 'script-src-elem',
    'effective-directive': 'script-src-elem',
    'blocked-uri': 'inline',
    'source-file': 'http://127.0.0.1/login',
    'line-number': 7,
    disposition: 'enforce',
    'original-policy': "default-src 'self'",
  },
};

const reportingApiReports = [
  {
    type: 'csp-violation',
    age: 10,
    url: 'http://127.0.0.1/admin',
    user_agent: 'test',
    body: { documentURL: 'http://127.0.0.1/admin', effectiveDirective: 'img-src', blockedURL: 'https://tracker.invalid/p.gif', disposition: 'report' },
  },
];

describe('POST /csp-report', () => {
  let app: TestApp;
  let redis: Redis;
  let prefix: string;
  beforeAll(async () => {
    prefix = uniquePrefix();
    app = await startTestApp({ REDIS_URL: SHARED_REDIS_URL, REDIS_KEY_PREFIX: prefix });
    redis = new Redis(SHARED_REDIS_URL);
  });
  afterAll(async () => {
    redis?.disconnect();
    await app?.stop();
  });

  const post = (body: string, contentType: string, client = '203.0.113.1') =>
    fetch(`${app.url}/csp-report`, { method: 'POST', headers: { 'content-type': contentType, 'x-forwarded-for': client }, body });

  const violationLines = () => app.logs.entries().filter((line) => line.msg === 'CSP violation reported');

  it('logs a report-uri (application/csp-report) report and answers 204 without a session', async () => {
    const response = await post(JSON.stringify(legacyReport), 'application/csp-report');
    expect(response.status).toBe(204);
    expect(response.headers.get('set-cookie')).toBeNull();
    const [line] = violationLines().slice(-1);
    expect(line).toMatchObject({
      level: 'warn',
      reportFormat: 'csp-report',
      cspViolation: { documentURL: 'http://127.0.0.1/login', effectiveDirective: 'script-src-elem', blockedURL: 'inline', lineNumber: 7, disposition: 'enforce' },
    });
    expect(line?.correlationId).toBe(response.headers.get('x-correlation-id'));
  });

  it('logs Reporting API (application/reports+json) csp-violation reports and answers 204', async () => {
    const before = violationLines().length;
    const response = await post(JSON.stringify(reportingApiReports), 'application/reports+json');
    expect(response.status).toBe(204);
    expect(response.headers.get('set-cookie')).toBeNull();
    const lines = violationLines();
    expect(lines).toHaveLength(before + 1);
    expect(lines.at(-1)).toMatchObject({ reportFormat: 'reports+json', cspViolation: { effectiveDirective: 'img-src', blockedURL: 'https://tracker.invalid/p.gif' } });
  });

  it('refuses a report over 16 KB with 413 PAYLOAD_TOO_LARGE and logs no violation', async () => {
    const before = violationLines().length;
    const big = { 'csp-report': { ...legacyReport['csp-report'], 'script-sample': 'x'.repeat(17 * 1024) } };
    const response = await post(JSON.stringify(big), 'application/csp-report');
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(violationLines()).toHaveLength(before);
  });

  it('refuses other media types with 415', async () => {
    for (const type of ['application/json', 'text/plain', 'application/x-www-form-urlencoded']) {
      const response = await post(JSON.stringify(legacyReport), type);
      expect(response.status).toBe(415);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    }
  });

  it('never creates or reads a session, and neither do health routes', async () => {
    const anonymous = await anonymousSession(app.url);
    const key = `${prefix}sess:${anonymous.sid}`;
    expect(await redis.exists(key)).toBe(1);
    // OBJECT IDLETIME (whole seconds since the key was last read or written) shows whether
    // a request loaded the session, without touching it itself.
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const report = await fetch(`${app.url}/csp-report`, {
      method: 'POST',
      headers: { 'content-type': 'application/csp-report', cookie: anonymous.cookie, 'x-forwarded-for': '203.0.113.2' },
      body: JSON.stringify(legacyReport),
    });
    expect(report.status).toBe(204);
    expect(report.headers.get('set-cookie')).toBeNull();
    for (const path of ['/health/live', '/health/ready', '/health']) {
      const response = await fetch(`${app.url}${path}`, { headers: { cookie: anonymous.cookie } });
      expect(response.headers.get('set-cookie')).toBeNull();
    }
    const cookieless = await post(JSON.stringify(legacyReport), 'application/csp-report', '203.0.113.3');
    expect(cookieless.headers.get('set-cookie')).toBeNull();
    expect(await redis.object('IDLETIME', key)).toBeGreaterThanOrEqual(2);
    expect((await redis.keys(`${prefix}sess:*`)).length).toBe(1);

    // The probe itself works: a session-scoped route does read the session.
    await fetch(`${app.url}/api/auth/me`, { headers: { cookie: anonymous.cookie } });
    expect(await redis.object('IDLETIME', key)).toBe(0);
  });

  it(`rate limits reports per client IP (${CSP_REPORTS_PER_MIN}/min)`, async () => {
    const client = '203.0.113.77';
    for (let i = 0; i < CSP_REPORTS_PER_MIN; i += 1) {
      expect((await post(JSON.stringify(legacyReport), 'application/csp-report', client)).status).toBe(204);
    }
    const refused = await post(JSON.stringify(legacyReport), 'application/csp-report', client);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(refused.headers.get('ratelimit-policy')).toBe(`"csp-report";q=${CSP_REPORTS_PER_MIN};w=60`);
    // Another client still gets through.
    expect((await post(JSON.stringify(legacyReport), 'application/csp-report', '203.0.113.78')).status).toBe(204);
  });
});
