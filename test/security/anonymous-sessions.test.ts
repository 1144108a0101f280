import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envSchema } from '../../src/config/schema.js';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { rawRequest, type RawResponse } from '../support/raw-http.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { loginWith, sessionCookieOf, sessionIdOf } from '../support/session.js';
import { limitState } from './rate-limit-support.js';

const PER_MIN = 60;

async function sessionKeys(redis: Redis, prefix: string): Promise<string[]> {
  return redis.keys(`${prefix}sess:*`);
}

async function clean(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
}

/** Issue 13 row "GET /api/auth/csrf x1000 from one client": anonymous sessions are cheap and bounded. */
describe('anonymous sessions', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(SHARED_REDIS_URL);
  });
  afterAll(() => {
    redis.disconnect();
  });

  describe('per-IP budget, lifetime and reuse', () => {
    let app: TestApp;
    const prefix = uniquePrefix();
    beforeAll(async () => {
      // Default RATE_LIMIT_ANONYMOUS_PER_MIN and SESSION_ANONYMOUS_TIMEOUT_S.
      app = await startTestApp({ REDIS_URL: SHARED_REDIS_URL, REDIS_KEY_PREFIX: prefix, SESSION_SECRET: randomBytes(32).toString('base64url') });
    });
    afterAll(async () => {
      await app?.stop();
      await clean(redis, prefix);
    });

    const get = (path: string, ip: string, cookie?: string): Promise<RawResponse> => {
      const headers: Array<[string, string]> = [['x-forwarded-for', ip]];
      if (cookie !== undefined) headers.push(['cookie', cookie]);
      return rawRequest(app.url, { path, headers });
    };
    const cookieOf = (response: RawResponse): string | null => {
      const lines = response.headers['set-cookie'] ?? [];
      const line = (Array.isArray(lines) ? lines : [lines]).find((l) => l.startsWith('sid='));
      return line === undefined ? null : line.split(';')[0]!;
    };

    it('answers 429 with Retry-After and the IETF fields after the budget, and the anonymous sessions in Redis stay bounded', async () => {
      const before = (await sessionKeys(redis, prefix)).length;
      const ip = '203.0.113.77';
      const answers: RawResponse[] = [];
      for (let round = 0; round < 50; round += 1) {
        answers.push(...(await Promise.all(Array.from({ length: 20 }, () => get('/api/auth/csrf', ip)))));
      }
      const ok = answers.filter((response) => response.status === 200);
      const refused = answers.filter((response) => response.status === 429);
      expect(ok).toHaveLength(PER_MIN);
      expect(refused).toHaveLength(1000 - PER_MIN);
      for (const response of refused) {
        expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'RATE_LIMITED', retryable: true } });
        expect(response.headers['ratelimit-policy']).toBe(`"anonymous";q=${PER_MIN};w=60`);
        expect(limitState(response, 'anonymous')).toEqual({ remaining: 0, resetS: Number(response.headers['retry-after']) });
        expect(response.headers['set-cookie']).toBeUndefined();
      }
      expect(Number(refused[0]!.headers['retry-after'])).toBeGreaterThan(0);
      // One key per admitted request at most: 1000 requests, 60 sessions.
      expect((await sessionKeys(redis, prefix)).length - before).toBe(PER_MIN);

      // GET /login shares the budget; another client does not.
      expect((await get('/login', ip)).status).toBe(429);
      expect((await get('/login', '203.0.113.78')).status).toBe(200);
    });

    it('keeps a pre-login session small and alive for minutes only', async () => {
      const response = await get('/api/auth/csrf', '203.0.113.80');
      const cookie = cookieOf(response)!;
      const key = `${prefix}sess:${sessionIdOf(cookie)}`;
      const ttlMs = await redis.pttl(key);
      expect(ttlMs).toBeGreaterThan(290_000);
      expect(ttlMs).toBeLessThanOrEqual(300_000);
      expect((await redis.get(key))!.length).toBeLessThan(256);
      // The setting cannot be raised past "minutes".
      expect(envSchema.validate({ SESSION_ANONYMOUS_TIMEOUT_S: 901 }, { allowUnknown: true }).error).toBeDefined();
      expect(envSchema.validate({ SESSION_ANONYMOUS_TIMEOUT_S: 900 }, { allowUnknown: true }).error).toBeUndefined();
    });

    it('gives a client that holds a live pre-login session the same one back, writing nothing', async () => {
      const ip = '203.0.113.81';
      const first = await get('/api/auth/csrf', ip);
      const cookie = cookieOf(first)!;
      const { token } = JSON.parse(first.body) as { token: string };
      const count = (await sessionKeys(redis, prefix)).length;
      for (let i = 0; i < 5; i += 1) {
        const again = await get(i % 2 ? '/api/auth/csrf' : '/login', ip, cookie);
        expect(again.status).toBe(200);
        expect(again.headers['set-cookie']).toBeUndefined();
        expect(again.body).toContain(token);
      }
      expect((await sessionKeys(redis, prefix)).length).toBe(count);
    });

    it('does not count signed-in callers against the anonymous budget', async () => {
      const ip = '203.0.113.77'; // spent by the first case
      const admin = await loginWith(app.url, TEST_ADMIN.username, TEST_ADMIN.password);
      const response = await get('/api/auth/csrf', ip, admin.cookie);
      expect(response.status).toBe(200);
      expect(response.headers['ratelimit-policy']).not.toContain('anonymous');
    });
  });

  describe('production over plain HTTP', () => {
    let app: TestApp;
    const prefix = uniquePrefix();
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
      await clean(redis, prefix);
    });

    it('stores no session, sets no cookie, and logs one warning line for many requests', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 40; i += 1) {
        const response = await fetch(`${app.url}${i % 4 === 0 ? '/login' : '/api/auth/csrf'}`);
        statuses.push(response.status);
        expect(response.headers.getSetCookie()).toEqual([]);
      }
      expect(statuses.every((status) => status === 200)).toBe(true);
      expect(await sessionKeys(redis, prefix)).toEqual([]);
      const warnings = app.logs.entries().filter((entry) => String(entry.msg).startsWith('session cookie not sent'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.msg).toMatch(/X-Forwarded-Proto and TRUSTED_PROXIES/);

      // The token backs nothing: the login that follows is refused, and still nothing is stored.
      const pre = await fetch(`${app.url}/api/auth/csrf`);
      const { token } = (await pre.json()) as { token: string };
      const login = await fetch(`${app.url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': token, origin: app.url },
        body: JSON.stringify(TEST_ADMIN),
      });
      expect(login.status).toBe(403);
      expect(((await login.json()) as { error: { code: string } }).error.code).toBe('CSRF_INVALID');
      expect(await sessionKeys(redis, prefix)).toEqual([]);
    });

    it('still stores the session over HTTPS', async () => {
      const response = await fetch(`${app.url}/api/auth/csrf`, { headers: { 'x-forwarded-proto': 'https' } });
      const cookie = sessionCookieOf(response)!;
      expect(cookie).toMatch(/^__Host-sid=/);
      expect(await redis.exists(`${prefix}sess:${sessionIdOf(cookie)}`)).toBe(1);
    });
  });
});
