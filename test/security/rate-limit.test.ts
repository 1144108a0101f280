import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { createUser, loginAs, loginWith } from '../support/session.js';
import { limitState, loginAttempt } from './rate-limit-support.js';

/**
 * Two instances on one Redis and one database, as two replicas behind a balancer. The test
 * client is 127.0.0.1, a trusted proxy by default, so X-Forwarded-For picks the client
 * address each case is counted as.
 */
describe('rate limits', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    const env = {
      REDIS_URL: SHARED_REDIS_URL,
      REDIS_KEY_PREFIX: uniquePrefix(),
      SESSION_SECRET: randomBytes(32).toString('base64url'),
      RATE_LIMIT_LOGIN_PER_MIN: '10',
      RATE_LIMIT_ACCOUNT_PER_MIN: '5',
    };
    a = await startTestApp(env);
    b = await startTestApp(env, { db: a.db });
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  it('answers the 11th login from one IP within a minute with 429 RATE_LIMITED, Retry-After and RateLimit fields', async () => {
    const client = ['203.0.113.50'];
    for (let i = 1; i <= 10; i += 1) {
      const response = await loginAttempt(a, client);
      // Failed logins count: each is a 401 and spends one unit.
      expect(response.status).toBe(401);
      // Both budgets of a login: the per-IP one, then the username's failed-login one.
      expect(response.headers['ratelimit-policy']).toBe('"login";q=10;w=60, "login-account";q=20;w=900');
      const state = limitState(response, 'login');
      expect(state?.remaining).toBe(10 - i);
      expect(state?.resetS).toBeGreaterThan(0);
      expect(state?.resetS).toBeLessThanOrEqual(60);
    }
    const refused = await loginAttempt(a, client);
    expect(refused.status).toBe(429);
    const { error } = JSON.parse(refused.body) as { error: { code: string; retryable: boolean; retryAfterMs: number } };
    expect(error).toMatchObject({ code: 'RATE_LIMITED', retryable: true });
    expect(error.retryAfterMs).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBe(Math.ceil(error.retryAfterMs / 1000));
    expect(refused.headers['ratelimit-policy']).toBe('"login";q=10;w=60');
    expect(limitState(refused, 'login')).toEqual({ remaining: 0, resetS: Number(refused.headers['retry-after']) });

    // The right password does not get past a spent budget, and no session is made.
    const correct = await loginAttempt(a, client, TEST_ADMIN);
    expect(correct.status).toBe(429);
    expect(correct.headers['set-cookie']).toBeUndefined();
  });

  it('shares the login budget between two instances on one Redis', async () => {
    const client = ['203.0.113.60'];
    for (let i = 1; i <= 10; i += 1) expect((await loginAttempt(i % 2 === 0 ? a : b, client)).status).toBe(401);
    expect((await loginAttempt(a, client)).status).toBe(429);
    expect((await loginAttempt(b, client)).status).toBe(429);
  });

  it('gives one account one budget, whichever IP the requests come from, and refuses writes past it without touching the database', async () => {
    const operator = await loginAs(a, 'operator');
    const statuses: number[] = [];
    let first: number | undefined;
    for (let i = 0; i < 8; i += 1) {
      const response = await operator.get('/api/lots?limit=1', { headers: { 'x-forwarded-for': `198.51.100.${10 + i}` } });
      statuses.push(response.status);
      if (response.status === 200) {
        expect(response.headers.get('ratelimit-policy')).toBe('"account";q=5;w=60');
        const remaining = limitState(response, 'account')?.remaining;
        first ??= remaining;
        expect(remaining).toBe((first ?? 0) - i);
      } else {
        expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
      }
    }
    const allowed = (first ?? 0) + 1;
    expect(statuses).toEqual([...Array<number>(allowed).fill(200), ...Array<number>(8 - allowed).fill(429)]);

    const before = await a.db.query<{ n: number }>('SELECT count(*)::int AS n FROM lot_notes');
    const write = await operator.post('/api/lots/1/notes', { text: 'over budget' }, { headers: { 'x-forwarded-for': '192.0.2.200' } });
    expect(write.status).toBe(429);
    expect(await a.db.query<{ n: number }>('SELECT count(*)::int AS n FROM lot_notes')).toEqual(before);

    // Another account is not affected.
    const other = await loginAs(a, 'viewer');
    expect((await other.get('/api/lots?limit=1')).status).toBe(200);
  });

  it('shares the per-account budget between two instances on one Redis', async () => {
    const user = await createUser(a, 'viewer');
    const session = await loginWith(a.url, user.username, user.password);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i += 1) {
      const app = i % 2 === 0 ? a : b;
      statuses.push((await fetch(`${app.url}/api/lots?limit=1`, { headers: { cookie: session.cookie } })).status);
    }
    const allowed = statuses.indexOf(429);
    // loginWith already spent one unit (the post-login CSRF token fetch); at most 5 in all.
    expect(allowed).toBeGreaterThan(0);
    expect(allowed).toBeLessThanOrEqual(4);
    expect(statuses.slice(allowed).every((s) => s === 429)).toBe(true);
  });
});
