import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { loginAs, SESSION_TEST_ENV } from '../support/session.js';

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
    };
    first = await startTestApp(env);
    second = await startTestApp(env, { db: first.db });
    redis = new Redis(SHARED_REDIS_URL);
  });
  afterAll(async () => {
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
});
