import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { anonymousSession, loginWith } from '../support/session.js';

const TOKEN = 'metrics-token-for-tests-0123456789';

/** GET /metrics as a raw request, so the test controls X-Forwarded-For exactly. */
function scrape(app: TestApp, headers: Record<string, string> = {}): Promise<{ status: number; body: string; type: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(`${app.url}/metrics`, { headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('GET /metrics', () => {
  let app: TestApp;
  beforeAll(async () => {
    // Loopback is trusted by default; with `none`, the test's 127.0.0.1 connection counts as an outsider.
    app = await startTestApp({ METRICS_TOKEN: TOKEN });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('serves Prometheus text to a loopback peer, with RED metrics labelled by route template', async () => {
    const session = await loginWith(app.url, TEST_ADMIN.username, TEST_ADMIN.password);
    for (const id of [1, 2, 3]) expect((await fetch(`${app.url}/api/lots/${id}`, { headers: session.headers() })).status).toBe(200);
    expect((await fetch(`${app.url}/nope/12345`)).status).toBe(404);
    const { status, body, type } = await scrape(app);
    expect(status, body.slice(0, 300)).toBe(200);
    const counts = body.split('\n').filter((line) => line.startsWith('http_request_duration_seconds_count'));
    expect(type).toMatch(/^text\/plain/);
    expect(counts).toContain('http_request_duration_seconds_count{method="GET",route="/api/lots/:id",status_code="200"} 3');
    expect(counts).toContain('http_request_duration_seconds_count{method="GET",route="unmatched",status_code="404"} 1');
    // Never the raw path or an id as a label value.
    expect(body).not.toMatch(/route="\/api\/lots\/\d/);
    expect(body).not.toMatch(/\/nope\/12345/);
    for (const name of [
      'rampart_db_pool_connections{state="in_use"}',
      'rampart_db_pool_connections{state="waiting"}',
      'rampart_db_pool_saturation',
      'rampart_breaker_state 0',
      'rampart_restart_policy_state 0',
      'rampart_worker_restarts_total{reason="rolling"} 0',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(body, name).toContain(name);
    }
  });

  it('refuses a scrape relayed for an outside client, unless it carries the metrics token', async () => {
    const relayed = await scrape(app, { 'x-forwarded-for': '203.0.113.9' });
    expect(relayed.status).toBe(403);
    expect(JSON.parse(relayed.body)).toMatchObject({ error: { code: 'FORBIDDEN' } });
    const wrongToken = await scrape(app, { 'x-forwarded-for': '203.0.113.9', authorization: 'Bearer not-the-token-at-all' });
    expect(wrongToken.status).toBe(403);
    const withToken = await scrape(app, { 'x-forwarded-for': '203.0.113.9', authorization: `Bearer ${TOKEN}` });
    expect(withToken.status).toBe(200);
    expect(withToken.body).toContain('rampart_db_pool_saturation');
  });

  it('counts rate-limit rejections by limit name', async () => {
    const limited = await startTestApp({ RATE_LIMIT_LOGIN_PER_MIN: '2' }, { db: app.db });
    try {
      const anonymous = await anonymousSession(limited.url);
      let rejected = 0;
      for (let i = 0; i < 4; i += 1) {
        const response = await anonymous.post('/api/auth/login', { username: 'nobody', password: 'nothing-at-all' });
        if (response.status === 429) rejected += 1;
      }
      expect(rejected).toBeGreaterThan(0);
      const { body } = await scrape(limited);
      expect(body).toContain(`rampart_rate_limit_rejections_total{limit="login"} ${rejected}`);
    } finally {
      await limited.close('test finished');
    }
  });
});
