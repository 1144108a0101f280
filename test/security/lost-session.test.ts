import { createHmac } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { anonymousSession, createUser, loginAs, loginWith, SESSION_TEST_ENV, sessionCookieOf } from '../support/session.js';

/**
 * CONTRACT: "A request whose cookie names no live session gets 401 on authenticated routes
 * before any CSRF check". A client told 403 CSRF_INVALID fetches a token for a session that
 * no longer exists and fails again; told 401 it signs in. CSRF keeps its teeth where a live
 * session stands behind the cookie and on the public login routes.
 */

interface Envelope {
  error: { code: string };
}

const codeOf = async (response: Response) => ((await response.json()) as Envelope).error.code;

async function noteCount(app: TestApp): Promise<number> {
  const [row] = await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM lot_notes');
  return row!.n;
}

describe('a request whose session cookie names no live session', () => {
  let app: TestApp;
  let redis: Redis;
  let prefix: string;

  beforeAll(async () => {
    prefix = uniquePrefix();
    app = await startTestApp({ ...SESSION_TEST_ENV, REDIS_URL: SHARED_REDIS_URL, REDIS_KEY_PREFIX: prefix });
    redis = new Redis(SHARED_REDIS_URL);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await app?.stop();
  });

  it('gets 401 UNAUTHENTICATED, not 403, on a POST with the old cookie and token once the session is deleted', async () => {
    const operator = await loginAs(app, 'operator');
    expect((await operator.post('/api/lots/1/notes', { text: 'while alive' })).status).toBe(201);
    const before = await noteCount(app);
    // What a Redis restarted empty, an expiry or an operator's revocation leave behind.
    await redis.del(`${prefix}sess:${operator.sid}`);
    const post = await operator.post('/api/lots/1/notes', { text: 'after the session is gone' });
    expect(post.status).toBe(401);
    expect(await codeOf(post)).toBe('UNAUTHENTICATED');
    // Without any token, and on the admin API, the same.
    const bare = await operator.post('/api/lots/1/notes', { text: 'no token' }, { headers: { 'x-csrf-token': '' } });
    expect(bare.status).toBe(401);
    const admin = await operator.post('/admin/api/worker/restart', {});
    expect(admin.status).toBe(401);
    expect((await operator.get('/api/auth/me')).status).toBe(401);
    expect(await noteCount(app)).toBe(before);
  });

  it('gets 401 for a cookie this deployment never signed (e.g. after a SESSION_SECRET rotation)', async () => {
    const signature = createHmac('sha256', 'another-secret').update('someid').digest('base64').replace(/=+$/, '');
    const response = await fetch(`${app.url}/api/lots/1/notes`, {
      method: 'POST',
      headers: { cookie: `sid=${encodeURIComponent(`s:someid.${signature}`)}`, 'content-type': 'application/json', origin: app.url },
      body: JSON.stringify({ text: 'forged' }),
    });
    expect(response.status).toBe(401);
  });

  it('still gets 403 CSRF_INVALID with a live session and a wrong or missing token', async () => {
    const operator = await loginAs(app, 'operator');
    const before = await noteCount(app);
    const wrong = await operator.post('/api/lots/1/notes', { text: 'x' }, { headers: { 'x-csrf-token': 'b'.repeat(64) } });
    expect(wrong.status).toBe(403);
    expect(await codeOf(wrong)).toBe('CSRF_INVALID');
    const missing = await operator.post('/api/lots/1/notes', { text: 'x' }, { headers: { 'x-csrf-token': '' } });
    expect(missing.status).toBe(403);
    expect(await noteCount(app)).toBe(before);
  });

  it('keeps login CSRF: with a dead cookie a login without the new token is 403, the anonymous flow signs in', async () => {
    const user = await createUser(app, 'operator');
    const pre = await anonymousSession(app.url);
    await redis.del(`${prefix}sess:${pre.sid}`);
    for (const [path, init] of [
      ['/api/auth/login', { headers: pre.headers(), body: JSON.stringify({ username: user.username, password: user.password }) }],
      [
        '/login',
        {
          headers: { cookie: pre.cookie, 'content-type': 'application/x-www-form-urlencoded', origin: app.url },
          body: new URLSearchParams({ username: user.username, password: user.password, _csrf: pre.csrfToken }).toString(),
        },
      ],
    ] as const) {
      const response = await fetch(`${app.url}${path}`, { method: 'POST', redirect: 'manual', ...init });
      expect(response.status, path).toBe(403);
      expect(sessionCookieOf(response), path).toBeNull();
    }
    // The anonymous flow with the dead cookie still in the jar: a fresh token, then login.
    const csrf = await fetch(`${app.url}/api/auth/csrf`, { headers: { cookie: pre.cookie } });
    expect(csrf.status).toBe(200);
    const fresh = sessionCookieOf(csrf);
    expect(fresh).not.toBeNull();
    const { token } = (await csrf.json()) as { token: string };
    const login = await fetch(`${app.url}/api/auth/login`, {
      method: 'POST',
      headers: { cookie: fresh!, 'x-csrf-token': token, 'content-type': 'application/json', origin: app.url },
      body: JSON.stringify({ username: user.username, password: user.password }),
    });
    expect(login.status).toBe(200);
    const again = await loginWith(app.url, user.username, user.password);
    expect((await again.get('/api/auth/me')).status).toBe(200);
  });
});
