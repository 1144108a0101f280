import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { startOwnRedis, uniquePrefix, type OwnRedis } from '../support/redis.js';
import { loginWith, SESSION_TEST_ENV } from '../support/session.js';

/** Commands the app sends on its own schedule (liveness, report cache), not per request. */
const BACKGROUND = new Set(['ping', 'info', 'publish', 'subscribe', 'client', 'select', 'hello']);

/**
 * Issue 17: an authenticated API request costs Redis one command, one round trip: the session
 * read and the per-account count together. Counted with MONITOR on a Redis of this test's own,
 * so no other suite's traffic is seen; commands a script runs (`lua` source) are part of its
 * single command and are not counted.
 */
describe('Redis round trips per authenticated request', () => {
  let redis: OwnRedis;
  let app: TestApp;
  let prefix: string;

  beforeAll(async () => {
    redis = await startOwnRedis();
    prefix = uniquePrefix();
    app = await startTestApp({ ...SESSION_TEST_ENV, REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix, RATE_LIMIT_ACCOUNT_PER_MIN: '1000' });
  }, 60_000);
  afterAll(async () => {
    await app?.stop();
    await redis?.stop();
  });

  it('reads the session and counts the account in one Redis command per GET, with the budget still counted and reported', async () => {
    const session = await loginWith(app.url, TEST_ADMIN.username, TEST_ADMIN.password);
    const first = await session.get('/api/auth/me');
    expect(first.status).toBe(200);
    const { user } = (await first.json()) as { user: { id: number } };
    const counter = `${prefix}rl:account:${user.id}`;
    const client = new Redis(redis.url);
    const reader = new Redis(redis.url);
    const hitsBefore = Number(await reader.get(counter));
    const monitor = await client.monitor();
    const seen: { command: string; args: string[] }[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua') seen.push({ command: String(args[0]).toLowerCase(), args });
    });
    try {
      const requests = 5;
      const remaining: number[] = [];
      for (let i = 0; i < requests; i += 1) {
        const response = await session.get('/api/auth/me');
        expect(response.status).toBe(200);
        remaining.push(Number(/"account";r=(\d+)/.exec(response.headers.get('ratelimit') ?? '')?.[1]));
      }
      // MONITOR lines arrive asynchronously; a short settle.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const perRequest = seen.filter((c) => !BACKGROUND.has(c.command));
      // One EVALSHA on the session's key per request, nothing else (the reader's GET ran before MONITOR).
      expect(perRequest.map((c) => `${c.command} ${c.args[3] ?? ''}`)).toEqual(Array(requests).fill(`evalsha ${prefix}sess:${session.sid}`));
      // Counted once per request, and the RateLimit field says so.
      expect(Number(await reader.get(counter))).toBe(hitsBefore + requests);
      expect(remaining).toEqual(remaining.map((_, i) => remaining[0]! - i));
    } finally {
      monitor.disconnect();
      client.disconnect();
      reader.disconnect();
    }
  });
});
