import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { sessionCookieOf } from '../support/session.js';

/**
 * Production behind a TLS-terminating proxy on loopback (the default TRUSTED_PROXIES): the
 * session cookie is `__Host-sid` with Secure, and is only sent when the proxy says the
 * request came over HTTPS.
 */
describe('session cookie in production', () => {
  let app: TestApp;
  const prefix = uniquePrefix();
  const https = { 'x-forwarded-proto': 'https' };

  beforeAll(async () => {
    app = await startTestApp({
      NODE_ENV: 'production',
      REDIS_URL: SHARED_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      SESSION_SECRET: randomBytes(32).toString('base64url'),
      ADMIN_BOOTSTRAP_PASSWORD: TEST_ADMIN.password,
    });
  });
  afterAll(async () => {
    await app?.stop();
    const redis = new Redis(SHARED_REDIS_URL);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('is __Host-sid, Secure, HttpOnly, SameSite=Lax, Path=/ over HTTPS, and logs in', async () => {
    const pre = await fetch(`${app.url}/api/auth/csrf`, { headers: https });
    expect(pre.status).toBe(200);
    const [line] = pre.headers.getSetCookie();
    expect(line).toMatch(/^__Host-sid=s%3A[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    const { token } = (await pre.json()) as { token: string };
    const login = await fetch(`${app.url}/api/auth/login`, {
      method: 'POST',
      headers: {
        ...https,
        cookie: sessionCookieOf(pre)!,
        'x-csrf-token': token,
        'content-type': 'application/json',
        origin: `https://${new URL(app.url).host}`,
      },
      body: JSON.stringify(TEST_ADMIN),
    });
    expect(login.status, await login.clone().text()).toBe(200);
    const cookie = sessionCookieOf(login)!;
    expect(cookie).toMatch(/^__Host-sid=/);
    expect(cookie).not.toBe(sessionCookieOf(pre));
    const me = await fetch(`${app.url}/api/auth/me`, { headers: { ...https, cookie } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { user: { username: string } }).user.username).toBe(TEST_ADMIN.username);
  });

  it('is not sent over plain HTTP, and the log says what to check', async () => {
    const response = await fetch(`${app.url}/api/auth/csrf`);
    expect(response.status).toBe(200);
    expect(response.headers.getSetCookie()).toEqual([]);
    const warning = app.logs.entries().find((entry) => String(entry.msg).startsWith('session cookie not sent'));
    expect(warning?.msg).toMatch(/X-Forwarded-Proto and TRUSTED_PROXIES/);
    expect(warning?.correlationId).toBe(response.headers.get('x-correlation-id'));
  });
});
