import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { startOwnRedis, type OwnRedis } from '../support/redis.js';
import { createUser, loginWith, SESSION_TEST_ENV, type TestUser } from '../support/session.js';
import { recoveryMs, sleep, UserLoad, verifyWrites, waitFor } from './support/user-load.js';
import { reportFigures } from './support/figures.js';

/**
 * Redis restarted empty while users work: every session is gone. The contract's answer to a
 * cookie that names no live session is 401 UNAUTHENTICATED, before any CSRF check, so a client
 * signs in again (as the load's users do) instead of fetching a token for a session that no
 * longer exists, which a 403 CSRF_INVALID would send it to do.
 */

interface Envelope {
  error: { code: string };
}

const codeOf = async (response: Response) => ((await response.json()) as Envelope).error.code;

describe('Redis restarted empty under user load', () => {
  let redis: OwnRedis;
  let app: TestApp;
  let users: TestUser[];

  beforeAll(async () => {
    redis = await startOwnRedis();
    app = await startTestApp({ ...SESSION_TEST_ENV, REDIS_URL: redis.url, REDIS_SOCKET_TIMEOUT_MS: '1000', REDIS_HEARTBEAT_MS: '500' });
    users = await Promise.all([0, 1, 2].map(() => createUser(app, 'operator')));
  });
  afterAll(async () => {
    await app?.stop();
    await redis?.stop();
  });

  it('answers the old cookie with 401, not 403; users sign in again and work within 5 s of Redis answering', async () => {
    const probeUser = await createUser(app, 'operator');
    const old = await loginWith(app.url, probeUser.username, probeUser.password);
    expect((await old.post('/api/lots/1/notes', { text: 'before the restart' })).status).toBe(201);
    const load = await UserLoad.start(app.url, users, { pauseMs: 25 });
    await sleep(800);

    await redis.stop();
    await sleep(300);
    const restartedAt = Date.now();
    await redis.start();
    const readinessMs = await waitFor(async () => (await fetch(`${app.url}/health/ready`)).status === 200, 8000, 50);
    expect(readinessMs).not.toBeNull();

    // The same cookie and the token that was valid a moment ago.
    const post = await old.post('/api/lots/1/notes', { text: 'after the restart' });
    expect(post.status).toBe(401);
    expect(await codeOf(post)).toBe('UNAUTHENTICATED');
    const get = await old.get('/api/lots?limit=1');
    expect(get.status).toBe(401);
    expect(await codeOf(get)).toBe('UNAUTHENTICATED');
    const again = await loginWith(app.url, probeUser.username, probeUser.password);
    expect((await again.post('/api/lots/1/notes', { text: 'signed in again' })).status).toBe(201);

    await sleep(2500);
    const result = await load.stop();
    const recovery = recoveryMs(result.samples, restartedAt);
    const verdict = await verifyWrites(app.db.url, result.writes);
    reportFigures(`redis restart-empty figures: ${JSON.stringify({ recoveryMs: recovery, readinessMs, statuses: result.statuses, codes: result.codes })}`);

    expect(result.violations).toEqual([]);
    expect(result.fetchErrors).toEqual({});
    expect(result.codes.CSRF_INVALID).toBeUndefined();
    expect(result.codes.UNAUTHENTICATED ?? 0).toBeGreaterThan(0);
    expect(Object.keys(result.codes).filter((code) => !['UNAUTHENTICATED', 'SESSION_STORE_UNAVAILABLE'].includes(code))).toEqual([]);
    expect(recovery).not.toBeNull();
    expect(recovery!).toBeLessThanOrEqual(5000);
    expect(verdict.missing).toEqual([]);
    expect(verdict.duplicates).toEqual([]);
    // A refused write was never stored.
    expect(verdict.unacknowledgedStored).toBe(0);
  });
});
