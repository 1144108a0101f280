import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { ACCOUNT_FRESH_MS } from '../../src/security/session/account-status.js';
import { createUser, loginAs, loginWith, SESSION_TEST_ENV } from '../support/session.js';
import { openStream, type SseReader } from '../support/sse.js';

/** Two instances behind one load balancer: one Redis, one SESSION_SECRET, one database. */
describe('sessions across two app instances', () => {
  let first: TestApp;
  let second: TestApp;
  let redis: Redis;
  const prefix = uniquePrefix();

  beforeAll(async () => {
    const env = {
      ...SESSION_TEST_ENV,
      REDIS_URL: SHARED_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      SESSION_SECRET: 'multi-instance-shared-secret-0123456789-abcdef',
      // Far beyond the tests: a stream that ends was told so through Redis, not by its own check.
      SSE_SESSION_CHECK_MS: '60000',
    };
    first = await startTestApp(env);
    second = await startTestApp(env, { db: first.db });
    redis = new Redis(SHARED_REDIS_URL);
  });
  afterAll(async () => {
    // Session keys expire on their own; the per-user indexes would live until the absolute timeout.
    const keys = (await redis?.keys(`${prefix}*`)) ?? [];
    if (keys.length > 0) await redis.del(...keys);
    redis?.disconnect();
    await second?.stop();
    await first?.stop();
  });

  it('accepts a session and its CSRF token made on one instance on the other', async () => {
    const operator = await loginAs(first, 'operator');
    const me = await fetch(`${second.url}/api/auth/me`, { headers: { cookie: operator.cookie } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { user: { id: number } }).user.id).toBe(operator.user.id);
    const note = await fetch(`${second.url}/api/lots/1/notes`, {
      method: 'POST',
      headers: operator.headers({ origin: second.url }),
      body: JSON.stringify({ text: 'written through the second instance' }),
    });
    expect(note.status).toBe(201);
  });

  it('makes a logout on one instance effective on the other', async () => {
    const operator = await loginAs(first, 'operator');
    const logout = await fetch(`${second.url}/api/auth/logout`, { method: 'POST', headers: operator.headers({ origin: second.url }) });
    expect(logout.status).toBe(204);
    expect(await redis.exists(`${prefix}sess:${operator.sid}`)).toBe(0);
    expect((await operator.get('/api/auth/me')).status).toBe(401);
    const [{ n: before }] = await first.db.query<{ n: number }>('SELECT count(*)::int AS n FROM lot_notes');
    const write = await operator.post('/api/lots/1/notes', { text: 'after logout elsewhere' });
    expect(write.status).toBe(401);
    const [{ n: after }] = await first.db.query<{ n: number }>('SELECT count(*)::int AS n FROM lot_notes');
    expect(after).toBe(before);
  });

  it('ends a stream on one instance at once when its session logs out on the other', async () => {
    const viewer = await loginAs(first, 'viewer');
    const stream = await openStream(first.url, viewer.cookie);
    try {
      const logout = await fetch(`${second.url}/api/auth/logout`, { method: 'POST', headers: viewer.headers({ origin: second.url }) });
      expect(logout.status).toBe(204);
      expect(await stream.waitForEnd(2000)).toBe('logged_out');
    } finally {
      await stream.cancel();
    }
  });

  it('an operator sign-out on one instance ends every session of the user on both, and their streams, at once', async () => {
    const user = await createUser(first, 'operator');
    const onFirst = await loginWith(first.url, user.username, user.password);
    const onSecond = await loginWith(second.url, user.username, user.password);
    expect(await redis.zcard(`${prefix}user-sess:${user.id}`)).toBe(2);
    const stream = await openStream(first.url, onFirst.cookie);
    const admin = await loginAs(second, 'admin');
    try {
      const response = await admin.post(`/admin/api/users/${user.id}/sign-out`, { reason: 'suspected cookie theft' });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { revokedSessions: number }).revokedSessions).toBe(2);
      for (const app of [first, second]) {
        for (const session of [onFirst, onSecond]) {
          const me = await fetch(`${app.url}/api/auth/me`, { headers: { cookie: session.cookie } });
          expect(me.status).toBe(401);
        }
      }
      expect(await redis.exists(`${prefix}sess:${onFirst.sid}`, `${prefix}sess:${onSecond.sid}`, `${prefix}user-sess:${user.id}`)).toBe(0);
      expect(await stream.waitForEnd(2000)).toBe('revoked');
    } finally {
      await stream.cancel();
    }
  });

  it('a user disabled in SQL is 401 on the next request on either instance', async () => {
    const operator = await loginAs(first, 'operator');
    const stream = await openStream(second.url, operator.cookie);
    try {
      expect((await fetch(`${second.url}/api/auth/me`, { headers: { cookie: operator.cookie } })).status).toBe(200);
      await first.db.query('UPDATE users SET disabled = true WHERE id = $1', [operator.user.id]);
      await new Promise((r) => setTimeout(r, ACCOUNT_FRESH_MS + 150));
      expect((await fetch(`${first.url}/api/auth/me`, { headers: { cookie: operator.cookie } })).status).toBe(401);
      expect((await fetch(`${second.url}/api/auth/me`, { headers: { cookie: operator.cookie } })).status).toBe(401);
      // Revoked by the first instance; the stream on the second heard it through Redis.
      expect(await stream.waitForEnd(2000)).toBe('disabled');
    } finally {
      await stream.cancel();
    }
  });

  it('holds SSE_MAX_PER_USER (5) across both instances: the 6th stream of a user is refused on either, another user still connects', async () => {
    const greedy = await loginAs(first, 'viewer');
    const other = await loginAs(second, 'viewer');
    const streams: SseReader[] = [];
    try {
      for (const app of [first, first, first, second, second]) streams.push(await openStream(app.url, greedy.cookie));
      expect(await redis.zcard(`${prefix}sse:${greedy.user.id}`)).toBe(5);
      for (const app of [first, second]) {
        const sixth = await fetch(`${app.url}/api/events/stream`, { headers: { cookie: greedy.cookie } });
        expect(sixth.status).toBe(429);
        expect(((await sixth.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
        expect(Number(sixth.headers.get('retry-after'))).toBeGreaterThan(0);
      }
      streams.push(await openStream(second.url, other.cookie));
      // Closing one frees its slot everywhere.
      await streams[0]!.cancel();
      const deadline = Date.now() + 2000;
      while ((await redis.zcard(`${prefix}sse:${greedy.user.id}`)) > 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      streams.push(await openStream(second.url, greedy.cookie));
    } finally {
      for (const stream of streams) await stream.cancel();
    }
  });
});
