import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { rawRequest } from '../support/raw-http.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { anonymousSession, createUser, loginAs, SESSION_TEST_ENV, sessionCookieOf } from '../support/session.js';

/**
 * The edge of the service (issue 13, parts 7-9): origins compared exactly, Host names refused
 * before routing (DNS rebinding), session responses never cached, and the API docs off or
 * admin-only in production. Each case attacks the real listening app.
 */

interface Envelope {
  error: { code: string; message: string; retryable: boolean; correlationId: string; details?: Array<{ path: string; message: string }> };
}

const notes = async (app: TestApp) => (await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM lot_notes'))[0]!.n;

describe('origins are compared exactly: scheme, host and port', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ ...SESSION_TEST_ENV });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('403 CSRF_INVALID: Origin https:// or ws:// with this host and port, against the http service, with a valid token', async () => {
    const operator = await loginAs(app, 'operator');
    const before = await notes(app);
    const host = new URL(app.url).host;
    for (const origin of [`https://${host}`, `ws://${host}`, `wss://${host}`]) {
      const response = await operator.request('POST', '/api/lots/1/notes', { headers: { origin }, body: JSON.stringify({ text: 'scheme' }) });
      expect(response.status, origin).toBe(403);
      expect(((await response.json()) as Envelope).error.code).toBe('CSRF_INVALID');
    }
    expect(await notes(app)).toBe(before);
    // The same request from the service's own origin goes through: the scheme was the refusal.
    const own = await operator.post('/api/lots/1/notes', { text: 'same origin' });
    expect(own.status).toBe(201);
  });

  it('403 CSRF_INVALID: without an Origin, a Referer from another origin (scheme included)', async () => {
    const operator = await loginAs(app, 'operator');
    const before = await notes(app);
    const { origin: _origin, ...withoutOrigin } = operator.headers();
    for (const referer of ['https://evil.example/page', `https://${new URL(app.url).host}/admin`]) {
      const response = await fetch(`${app.url}/api/lots/1/notes`, {
        method: 'POST',
        headers: { ...withoutOrigin, referer },
        body: JSON.stringify({ text: 'referer' }),
      });
      expect(response.status, referer).toBe(403);
      expect(((await response.json()) as Envelope).error.code).toBe('CSRF_INVALID');
    }
    expect(await notes(app)).toBe(before);
  });

  it('behind a trusted proxy the scheme comes from X-Forwarded-Proto: https:// is then the own origin', async () => {
    const operator = await loginAs(app, 'operator');
    const response = await operator.request('POST', '/api/lots/1/notes', {
      headers: { origin: `https://${new URL(app.url).host}`, 'x-forwarded-proto': 'https' },
      body: JSON.stringify({ text: 'through the TLS proxy' }),
    });
    expect(response.status).toBe(201);
  });
});

describe('PUBLIC_ORIGIN set: only that origin is accepted', () => {
  let app: TestApp;
  const PUBLIC = 'https://dash.example.test';

  beforeAll(async () => {
    app = await startTestApp({ ...SESSION_TEST_ENV, PUBLIC_ORIGIN: `${PUBLIC}/` });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('logs in and writes with Origin PUBLIC_ORIGIN; the request-derived origin and look-alikes are refused', async () => {
    const user = await createUser(app, 'operator');
    const pre = await anonymousSession(app.url);
    for (const origin of [app.url, 'http://dash.example.test', 'https://dash.example.test:8443', 'https://evil.example']) {
      const refused = await pre.post('/api/auth/login', { username: user.username, password: user.password }, { headers: { origin } });
      expect(refused.status, origin).toBe(403);
      expect(((await refused.json()) as Envelope).error.code).toBe('CSRF_INVALID');
    }
    const login = await pre.post('/api/auth/login', { username: user.username, password: user.password }, { headers: { origin: PUBLIC } });
    expect(login.status).toBe(200);
    const cookie = sessionCookieOf(login)!;
    const { token } = (await (await fetch(`${app.url}/api/auth/csrf`, { headers: { cookie } })).json()) as { token: string };
    const headers = { cookie, 'x-csrf-token': token, 'content-type': 'application/json' };
    const before = await notes(app);
    const foreign = await fetch(`${app.url}/api/lots/1/notes`, { method: 'POST', headers: { ...headers, origin: app.url }, body: JSON.stringify({ text: 'x' }) });
    expect(foreign.status).toBe(403);
    expect(await notes(app)).toBe(before);
    const own = await fetch(`${app.url}/api/lots/1/notes`, { method: 'POST', headers: { ...headers, origin: PUBLIC }, body: JSON.stringify({ text: 'x' }) });
    expect(own.status).toBe(201);
  });

  it("serves PUBLIC_ORIGIN's host name without listing it in ALLOWED_HOSTS", async () => {
    const response = await rawRequest(app.url, { path: '/health/live', headers: [['host', 'dash.example.test']] });
    expect(response.status).toBe(200);
  });
});

describe('ALLOWED_HOSTS: other Host names are refused before routing (DNS rebinding)', () => {
  let app: TestApp;
  let adminCookie: string;

  beforeAll(async () => {
    app = await startTestApp({ ...SESSION_TEST_ENV });
    adminCookie = (await loginAs(app, 'admin')).cookie;
  });
  afterAll(async () => {
    await app?.stop();
  });

  const PATHS = ['/metrics', '/health/deep', '/health/live', '/api/docs-json', '/api/docs', '/api/lots', '/login', '/admin', '/assets/swagger-ui/swagger-ui.css', '/nope'];

  it('400 VALIDATION_FAILED with the envelope for Host rebind.evil.example from a loopback peer, on every path', async () => {
    for (const host of ['rebind.evil.example', `rebind.evil.example:${app.port}`, `localhost.evil.example:${app.port}`]) {
      for (const path of PATHS) {
        const response = await rawRequest(app.url, { path, headers: [['host', host], ['cookie', adminCookie]] });
        expect(response.status, `${host} ${path}`).toBe(400);
        const body = JSON.parse(response.body) as Envelope;
        expect(body.error).toMatchObject({ code: 'VALIDATION_FAILED', retryable: false, details: [{ path: 'header.host', message: 'not in ALLOWED_HOSTS' }] });
        expect(body.error.correlationId).toBe(response.headers['x-correlation-id']);
        // Nothing of what the route would have said, and the refused name is not echoed.
        expect(response.body).not.toMatch(/rampart_|openapi|"status"|rebind/);
      }
    }
  });

  it('a rebound page cannot launder its Host through X-Forwarded-Host, though loopback is a trusted proxy', async () => {
    for (const path of ['/metrics', '/health/deep', '/api/docs-json']) {
      const response = await rawRequest(app.url, { path, headers: [['host', `127.0.0.1:${app.port}`], ['x-forwarded-host', 'rebind.evil.example']] });
      expect(response.status, path).toBe(400);
    }
  });

  it('Host 127.0.0.1:port, localhost, [::1] and another IP literal are served', async () => {
    for (const host of [`127.0.0.1:${app.port}`, '127.0.0.1', `localhost:${app.port}`, 'LOCALHOST', `[::1]:${app.port}`, '10.1.2.3:3000']) {
      for (const path of ['/metrics', '/health/deep', '/api/docs-json']) {
        const response = await rawRequest(app.url, { path, headers: [['host', host]] });
        expect(response.status, `${host} ${path}`).toBe(200);
      }
      const lots = await rawRequest(app.url, { path: '/api/lots', headers: [['host', host], ['cookie', adminCookie]] });
      expect(lots.status, `${host} /api/lots`).toBe(200);
    }
  });
});

describe('session responses are not cached', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ ...SESSION_TEST_ENV });
  });
  afterAll(async () => {
    await app?.stop();
  });

  const noStore = (response: Response, label: string) => {
    expect(response.headers.get('cache-control'), label).toBe('no-store');
    expect(response.headers.get('vary') ?? '', label).toMatch(/\bCookie\b/i);
  };

  it('authenticated JSON responses, errors included, carry Cache-Control: no-store and Vary: Cookie', async () => {
    const operator = await loginAs(app, 'operator');
    for (const path of ['/api/lots', '/api/lots/1', '/api/auth/me', '/api/reports/wip-summary', '/api/lots/999999', '/admin/api/audit']) {
      const response = await operator.get(path);
      expect(response.status, path).toBeLessThan(500);
      expect(response.headers.get('content-type'), path).toMatch(/application\/json/);
      noStore(response, path);
    }
    const refused = await operator.request('POST', '/api/lots/1/notes', { headers: { 'x-csrf-token': 'wrong' }, body: '{"text":"x"}' });
    expect(refused.status).toBe(403);
    noStore(refused, 'CSRF refusal');
    noStore(await fetch(`${app.url}/api/lots`), 'anonymous 401');
    noStore(await fetch(`${app.url}/login`), 'login page');
  });

  it('health and static assets are left to their own caching', async () => {
    const live = await fetch(`${app.url}/health/live`);
    expect(live.headers.get('cache-control')).not.toBe('no-store');
    const css = await fetch(`${app.url}/assets/swagger-ui/swagger-ui.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get('cache-control') ?? '').not.toMatch(/no-store/);
  });
});

describe('API docs in production', () => {
  const prefix = uniquePrefix();
  const apps: TestApp[] = [];
  const https = { 'x-forwarded-proto': 'https' };

  const production = (env: Record<string, string> = {}) =>
    startTestApp({
      ...SESSION_TEST_ENV,
      NODE_ENV: 'production',
      REDIS_URL: SHARED_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      SESSION_SECRET: randomBytes(32).toString('base64url'),
      ADMIN_BOOTSTRAP_PASSWORD: TEST_ADMIN.password,
      ...env,
    }).then((app) => {
      apps.push(app);
      return app;
    });

  /** Production sessions need HTTPS: the test speaks as the TLS proxy on loopback would. */
  async function login(app: TestApp, username: string, password: string): Promise<string> {
    const pre = await fetch(`${app.url}/api/auth/csrf`, { headers: https });
    const { token } = (await pre.json()) as { token: string };
    const response = await fetch(`${app.url}/api/auth/login`, {
      method: 'POST',
      headers: { ...https, cookie: sessionCookieOf(pre)!, 'x-csrf-token': token, 'content-type': 'application/json', origin: `https://${new URL(app.url).host}` },
      body: JSON.stringify({ username, password }),
    });
    expect(response.status, await response.clone().text()).toBe(200);
    return sessionCookieOf(response)!;
  }

  afterAll(async () => {
    for (const app of apps) await app.stop();
    const redis = new Redis(SHARED_REDIS_URL);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('404 NOT_FOUND for /api/docs and /api/docs-json by default, even for an admin', async () => {
    const app = await production();
    const admin = await login(app, TEST_ADMIN.username, TEST_ADMIN.password);
    for (const path of ['/api/docs', '/api/docs-json', '/api/docs/', '/API/DOCS-JSON']) {
      for (const headers of [https, { ...https, cookie: admin }]) {
        const response = await fetch(`${app.url}${path}`, { headers });
        expect(response.status, path).toBe(404);
        expect(((await response.json()) as Envelope).error.code).toBe('NOT_FOUND');
      }
    }
  });

  it('API_DOCS=on: 401 anonymous, 403 viewer and operator, 200 admin', async () => {
    const app = await production({ API_DOCS: 'on' });
    for (const path of ['/api/docs', '/api/docs-json']) {
      const anonymous = await fetch(`${app.url}${path}`, { headers: https });
      expect(anonymous.status, path).toBe(401);
      expect(((await anonymous.json()) as Envelope).error.code).toBe('UNAUTHENTICATED');
    }
    for (const role of ['viewer', 'operator'] as const) {
      const user = await createUser(app, role);
      const cookie = await login(app, user.username, user.password);
      for (const path of ['/api/docs', '/api/docs-json']) {
        const response = await fetch(`${app.url}${path}`, { headers: { ...https, cookie } });
        expect(response.status, `${role} ${path}`).toBe(403);
        expect(((await response.json()) as Envelope).error.code).toBe('FORBIDDEN');
      }
    }
    const admin = await login(app, TEST_ADMIN.username, TEST_ADMIN.password);
    const json = await fetch(`${app.url}/api/docs-json`, { headers: { ...https, cookie: admin } });
    expect(json.status).toBe(200);
    expect(json.headers.get('cache-control')).toBe('no-store');
    const doc = (await json.json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain('/api/lots');
    const page = await fetch(`${app.url}/api/docs`, { headers: { ...https, cookie: admin } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/swagger-ui-bundle\.js/);
  });
});
