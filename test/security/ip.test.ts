import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { limitState, loginAttempt } from './rate-limit-support.js';

/**
 * Which address a request is counted against, read through the login budget: a request
 * counted in the same bucket as the previous one sees `r` go down by one, a fresh bucket
 * starts again at 9 (RATE_LIMIT_LOGIN_PER_MIN=10).
 */
describe('client IP with loopback as the trusted proxy (the default)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ REDIS_URL: SHARED_REDIS_URL, REDIS_KEY_PREFIX: uniquePrefix(), RATE_LIMIT_LOGIN_PER_MIN: '10' });
  });
  afterAll(async () => {
    await app?.stop();
  });

  const remainingAfter = async (...forwardedFor: string[]) => {
    const response = await loginAttempt(app, forwardedFor);
    expect(response.status).toBe(401);
    return limitState(response, 'login')?.remaining;
  };

  it('counts X-Forwarded-For "1.1.1.1, 2.2.2.2" against 2.2.2.2: the rightmost untrusted entry, never the leftmost', async () => {
    expect(await remainingAfter('1.1.1.1, 2.2.2.2')).toBe(9);
    // The client controls the leftmost entry; rotating it does not open a new bucket.
    expect(await remainingAfter('9.9.9.9, 2.2.2.2')).toBe(8);
    expect(await remainingAfter('2.2.2.2')).toBe(7);
    expect(await remainingAfter('2.2.2.2, 3.3.3.3')).toBe(9);
  });

  it('counts ::ffff:-mapped spellings of an IPv4 address in that address\'s bucket', async () => {
    expect(await remainingAfter('::ffff:203.0.113.20')).toBe(9);
    expect(await remainingAfter('203.0.113.20')).toBe(8);
    expect(await remainingAfter('::FFFF:CB00:7114')).toBe(7);
  });

  it('walks repeated X-Forwarded-For header lines as one list', async () => {
    expect(await remainingAfter('198.51.100.1', '203.0.113.30')).toBe(9);
    expect(await remainingAfter('203.0.113.30')).toBe(8);
    expect(await remainingAfter('198.51.100.1')).toBe(9);
  });

  it('answers malformed entries normally and counts them against the proxy that sent them, not a client-chosen key', async () => {
    // The test client is the trusted proxy here (127.0.0.1): junk it forwards lands in its bucket.
    expect(await remainingAfter('evil-key-1')).toBe(9);
    expect(await remainingAfter('evil-key-2')).toBe(8);
    expect(await remainingAfter('203.0.113.40, <script>alert(1)</script>')).toBe(7);
    expect(await remainingAfter(`${'9'.repeat(4000)}`)).toBe(6);
    expect(await remainingAfter(',,, ,')).toBe(5);
    expect(await remainingAfter('127.1, 0x7f000001')).toBe(4);
  });
});

describe('X-Forwarded-For from an untrusted peer (TRUSTED_PROXIES=10.0.0.0/8, so the loopback test client is not trusted)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({
      REDIS_URL: SHARED_REDIS_URL,
      REDIS_KEY_PREFIX: uniquePrefix(),
      TRUSTED_PROXIES: '10.0.0.0/8',
      RATE_LIMIT_LOGIN_PER_MIN: '10',
    });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('does not reset the login budget when X-Forwarded-For changes on every attempt', async () => {
    for (let i = 1; i <= 10; i += 1) {
      const response = await loginAttempt(app, [`203.0.113.${i}`]);
      expect(response.status).toBe(401);
      expect(limitState(response, 'login')?.remaining).toBe(10 - i);
    }
    const refused = await loginAttempt(app, ['203.0.113.99']);
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'RATE_LIMITED', retryable: true } });
    // Even the right password is refused: the limiter runs before authentication.
    const correct = await loginAttempt(app, ['198.51.100.7'], TEST_ADMIN);
    expect(correct.status).toBe(429);
    expect(correct.headers['set-cookie']).toBeUndefined();
  });
});
