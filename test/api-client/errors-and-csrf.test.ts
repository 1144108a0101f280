import { randomUUID } from 'node:crypto';
import { ApiError, createApiClient, type ApiClient, type GiveUpEvent, type RetryEvent } from '@rampart/api-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { createUser, SESSION_TEST_ENV, type TestUser } from '../support/session.js';
import { browserWire, logMark, serverHits, settle, type BrowserWire } from './support.js';

interface Observed {
  api: ApiClient;
  wire: BrowserWire;
  retries: RetryEvent[];
  giveUps: GiveUpEvent[];
}

describe('api-client: errors that are never retried, and CSRF', () => {
  let app: TestApp;
  let viewer: TestUser;
  let operator: TestUser;

  beforeAll(async () => {
    app = await startTestApp({ ...SESSION_TEST_ENV });
    viewer = await createUser(app, 'viewer');
    operator = await createUser(app, 'operator');
  });
  afterAll(async () => {
    await app?.stop();
  });

  async function loggedIn(user: { username: string; password: string }): Promise<Observed> {
    const wire = browserWire(app.url);
    const retries: RetryEvent[] = [];
    const giveUps: GiveUpEvent[] = [];
    // Generous attempts and tiny delays: if anything were retried, it would show.
    const api = createApiClient({
      baseUrl: app.url,
      fetch: wire.fetch,
      maxAttempts: 5,
      baseDelayMs: 1,
      maxDelayMs: 5,
      hooks: { onRetry: (e) => retries.push(e), onGiveUp: (e) => giveUps.push(e) },
    });
    await api.login(user.username, user.password);
    return { api, wire, retries, giveUps };
  }

  async function expectSentOnce(
    observed: Observed,
    method: string,
    path: string,
    call: () => Promise<unknown>,
    expected: { code: string; status: number },
  ): Promise<ApiError> {
    const since = logMark(app);
    const sentBefore = observed.wire.count(method, path);
    const error = await call().then(
      () => expect.unreachable('the call should have failed'),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ ...expected, retryable: false, retryAfterMs: null });
    expect((error as ApiError).correlationId).toMatch(/.+/);
    await settle();
    const hits = serverHits(app, { method, path, since });
    expect(hits.map((h) => h.status)).toEqual([expected.status]);
    expect(observed.wire.count(method, path) - sentBefore).toBe(1);
    return error as ApiError;
  }

  it('a 400 is never retried, not even on an idempotent GET or a POST with an Idempotency-Key', async () => {
    const observed = await loggedIn(TEST_ADMIN);
    const limit = await expectSentOnce(observed, 'GET', '/api/lots', () => observed.api.lots.list({ limit: 0 }), {
      code: 'VALIDATION_FAILED',
      status: 400,
    });
    expect(limit.details?.map((d) => d.path)).toContain('limit');
    await expectSentOnce(observed, 'GET', '/api/lots/abc', () => observed.api.lots.get('abc'), { code: 'VALIDATION_FAILED', status: 400 });
    await expectSentOnce(
      observed,
      'POST',
      '/api/lots/1/notes',
      () => observed.api.lots.addNote(1, '', { idempotencyKey: randomUUID() }),
      { code: 'VALIDATION_FAILED', status: 400 },
    );
    expect(observed.retries).toEqual([]);
    expect(observed.giveUps.map((g) => g.reason)).toEqual(['not-retryable', 'not-retryable', 'not-retryable']);
  });

  it('a 403 is never retried: a viewer writing a note, or reading the admin API', async () => {
    const observed = await loggedIn(viewer);
    await expectSentOnce(
      observed,
      'POST',
      '/api/lots/1/notes',
      () => observed.api.lots.addNote(1, 'viewers may not write', { idempotencyKey: randomUUID() }),
      { code: 'FORBIDDEN', status: 403 },
    );
    await expectSentOnce(observed, 'GET', '/admin/api/worker/status', () => observed.api.admin.workerStatus(), {
      code: 'FORBIDDEN',
      status: 403,
    });
    // Neither is a 404, a 401 or anything else that is not retryable.
    await expectSentOnce(observed, 'GET', '/api/lots/999999', () => observed.api.lots.get(999999), { code: 'NOT_FOUND', status: 404 });
    expect(observed.retries).toEqual([]);
    const notes = await app.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM lot_notes WHERE text = 'viewers may not write'`);
    expect(notes[0]!.n).toBe(0);
  });

  it('fetches the CSRF token once for many writes; after the server invalidates it, refreshes on CSRF_INVALID and replays once', async () => {
    const observed = await loggedIn(operator);
    const { api, wire } = observed;
    const since = logMark(app);

    const sequential = [];
    for (let i = 0; i < 3; i += 1) sequential.push(await api.lots.addNote(2, `sequential ${i}`));
    const concurrent = await Promise.all([0, 1, 2, 3].map((i) => api.lots.addNote(2, `concurrent ${i}`)));
    for (const note of [...sequential, ...concurrent]) expect(note).toMatchObject({ lotId: 2, authorId: operator.id });
    await settle();
    expect(serverHits(app, { method: 'GET', path: '/api/auth/csrf', since })).toHaveLength(1);
    expect(serverHits(app, { method: 'POST', path: '/api/lots/2/notes', since }).map((h) => h.status)).toEqual(Array(7).fill(201));

    // Another tab logs in again with the same cookies: the session is regenerated and the token
    // this client holds belongs to a session that no longer exists.
    const pre = await wire.fetch(`${app.url}/api/auth/csrf`, { method: 'GET' });
    const { token } = (await pre.json()) as { token: string };
    const relogin = await wire.fetch(`${app.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': token },
      body: JSON.stringify({ username: operator.username, password: operator.password }),
    });
    expect(relogin.status).toBe(200);

    const mark = logMark(app);
    const note = await api.lots.addNote(2, 'after the other tab logged in');
    expect(note.text).toBe('after the other tab logged in');
    await settle();
    expect(serverHits(app, { method: 'POST', path: '/api/lots/2/notes', since: mark }).map((h) => h.status)).toEqual([403, 201]);
    expect(serverHits(app, { method: 'GET', path: '/api/auth/csrf', since: mark })).toHaveLength(1);
    expect(observed.retries.map((r) => r.error.code)).toEqual(['CSRF_INVALID']);
    const rows = await app.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM lot_notes WHERE text = 'after the other tab logged in'`);
    expect(rows[0]!.n).toBe(1);
  });

  it('logout and login through the client: the client drops the old token itself, so no write is refused', async () => {
    const observed = await loggedIn(operator);
    const { api } = observed;
    await api.lots.addNote(3, 'before logout');
    await api.logout();
    await expect(api.me()).rejects.toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
    const since = logMark(app);
    await api.login(operator.username, operator.password);
    expect((await api.me()).user).toMatchObject({ id: operator.id, role: 'operator' });
    expect(await api.lots.addNote(3, 'after login')).toMatchObject({ text: 'after login' });
    await settle();
    // One token for the login's anonymous session, one for the new session.
    expect(serverHits(app, { method: 'GET', path: '/api/auth/csrf', since })).toHaveLength(2);
    expect(serverHits(app, { since }).filter((h) => h.status === 403)).toEqual([]);
    expect(observed.retries).toEqual([]);
  });
});
