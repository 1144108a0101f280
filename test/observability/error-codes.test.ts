import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { startOwnRedis, type OwnRedis } from '../support/redis.js';
import { loginAs, SESSION_TEST_ENV } from '../support/session.js';

interface AccessLine {
  req?: { method?: string; url?: string };
  res?: { statusCode?: number };
  route?: string | null;
  errorCode?: string;
  correlationId?: string;
}

const accessLines = (app: TestApp) => app.logs.entries().filter((entry) => typeof (entry as AccessLine).res?.statusCode === 'number') as AccessLine[];

/** Every access log line of a 4xx/5xx answer names the contract code the client was sent, and the metric counts it per code and route. */
describe('error codes in access logs and metrics', () => {
  let app: TestApp;
  let redis: OwnRedis;
  beforeAll(async () => {
    redis = await startOwnRedis();
    app = await startTestApp({ ...SESSION_TEST_ENV, REDIS_URL: redis.url, REDIS_SOCKET_TIMEOUT_MS: '500', REDIS_HEARTBEAT_MS: '300' });
  });
  afterAll(async () => {
    await app?.stop();
    await redis?.stop();
  });

  it('401, 403 CSRF, 404, 400 and 503 session store: each line has errorCode, each code has a series', async () => {
    const operator = await loginAs(app, 'operator');
    const expected: Array<{ status: number; code: string; route: string; response: Response }> = [];
    const add = async (status: number, code: string, route: string, response: Promise<Response>) => {
      const answered = await response;
      await answered.arrayBuffer();
      expected.push({ status, code, route, response: answered });
    };
    await add(401, 'UNAUTHENTICATED', '/api/lots', fetch(`${app.url}/api/lots`));
    // Refused by the CSRF middleware, before routing: the route template is still named.
    await add(403, 'CSRF_INVALID', '/api/lots/:id/notes', fetch(`${app.url}/api/lots/1/notes`, {
      method: 'POST',
      headers: { cookie: operator.cookie, 'content-type': 'application/json', origin: app.url },
      body: JSON.stringify({ text: 'no token' }),
    }));
    await add(404, 'NOT_FOUND', '/api/lots/:id', operator.get('/api/lots/999999'));
    await add(404, 'NOT_FOUND', 'unmatched', fetch(`${app.url}/no/such/path`));
    // Static files answer from express.static, not a route: the code still comes from the filter.
    await add(404, 'NOT_FOUND', 'unmatched', fetch(`${app.url}/assets/src/admin/console/no-such-file.js`));
    await add(413, 'PAYLOAD_TOO_LARGE', '/api/auth/login', operator.post('/api/auth/login', { username: 'x'.repeat(20_000), password: 'y' }));
    await add(400, 'VALIDATION_FAILED', '/api/lots/:id/notes', operator.post('/api/lots/1/notes', { nonsense: true }));
    await redis.stop();
    await add(503, 'SESSION_STORE_UNAVAILABLE', '/api/lots', operator.get('/api/lots'));
    // A failed probe answers Terminus' body, not the envelope; its line still names why.
    await add(503, 'HEALTH_CHECK_FAILED', '/health/ready', fetch(`${app.url}/health/ready`));

    for (const { status, code, route, response } of expected) {
      expect(response.status, `${code} ${route}`).toBe(status);
      const id = response.headers.get('x-correlation-id');
      const line = accessLines(app).find((entry) => entry.correlationId === id);
      expect(line, `access line for ${code}`).toBeDefined();
      expect(line!.errorCode, JSON.stringify(line)).toBe(code);
      expect(line!.route ?? 'unmatched').toBe(route);
    }
    // Not one 4xx/5xx line of this app without a code.
    // (HTTP_<status> is what an answer no filter classified would carry.)
    const missing = accessLines(app).filter((entry) => (entry.res?.statusCode ?? 0) >= 400 && (typeof entry.errorCode !== 'string' || entry.errorCode.startsWith('HTTP_')));
    expect(missing).toEqual([]);

    const body = await (await fetch(`${app.url}/metrics`)).text();
    for (const { code, route } of expected) {
      expect(body, `${code} ${route}`).toMatch(new RegExp(`^rampart_http_errors_total\\{code="${code}",route="${route.replaceAll('/', '\\/')}"\\} [1-9]`, 'm'));
    }
    // The requests above with Redis down failed the session store; /metrics itself runs no limiter.
    expect(body).toMatch(/^rampart_session_store_failures_total [1-9]/m);
    expect(body).toMatch(/^rampart_rate_limit_store_failures_total \d/m);
  });

  it('counts rate-limit store failures (the limiter fails open, the session store closed)', async () => {
    // Redis is down since the previous test; a public route under the anonymous limit counts a failure.
    const before = await (await fetch(`${app.url}/metrics`)).text();
    const count = (text: string) => Number(/^rampart_rate_limit_store_failures_total (\d+)/m.exec(text)?.[1] ?? NaN);
    const response = await fetch(`${app.url}/api/auth/csrf`);
    await response.arrayBuffer();
    const after = await (await fetch(`${app.url}/metrics`)).text();
    expect(count(after), `status ${response.status}`).toBeGreaterThan(count(before));
  });
});
