import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WorkerControl } from '../../src/admin/worker-control.js';
import type { RolloutResult, SupervisorStatus } from '../../src/cluster/protocol.js';
import { IdempotencyService } from '../../src/idempotency/idempotency.service.js';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { lockTables } from '../support/database.js';
import { type LoggedIn, loginAs, loginWith, SESSION_TEST_ENV, type BrowserSession } from '../support/session.js';

interface Envelope {
  error: { code: string; message: string; retryable: boolean; retryAfterMs: number | null };
}

describe('Idempotency-Key on writes (CONTRACT.md, "Idempotency")', () => {
  let app: TestApp;
  let operator: LoggedIn;
  let other: LoggedIn;

  beforeAll(async () => {
    app = await startTestApp({ ...SESSION_TEST_ENV, DB_QUERY_TIMEOUT_MS: '4000' });
    operator = await loginAs(app, 'operator');
    other = await loginAs(app, 'operator');
  });
  afterAll(async () => {
    await app?.stop();
  });

  const note = (session: BrowserSession, key: string | null, text: string, lot = 1) =>
    session.post(`/api/lots/${lot}/notes`, { text }, key === null ? {} : { headers: { 'Idempotency-Key': key } });
  const stored = async (text: string) =>
    (await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM lot_notes WHERE text = $1', [text]))[0]!.n;

  it('answers a repeat with the first answer, marked replayed, and stores the note once', async () => {
    const key = randomUUID();
    const text = `once ${key}`;
    const first = await note(operator, key, text);
    const firstBody: unknown = await first.json();
    const second = await note(operator, key, text);

    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await second.json()).toEqual(firstBody);
    expect(await stored(text)).toBe(1);
    const [row] = await app.db.query<{ status: number; state: string }>(
      'SELECT status, state FROM idempotency_keys WHERE user_id = $1 AND key = $2',
      [operator.user.id, key],
    );
    expect(row).toEqual({ status: 201, state: 'completed' });
  });

  it('treats the same body with its keys reordered as the same request', async () => {
    const key = randomUUID();
    const text = `reordered ${key}`;
    expect((await operator.request('POST', '/api/lots/2/notes', { body: `{"text":${JSON.stringify(text)}}`, headers: { 'Idempotency-Key': key } })).status).toBe(201);
    const again = await operator.request('POST', '/api/lots/2/notes', { body: ` { "text" : ${JSON.stringify(text)} } `, headers: { 'Idempotency-Key': key } });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await stored(text)).toBe(1);
  });

  it('refuses the same key with another body or another lot with 422 IDEMPOTENCY_KEY_MISMATCH, writing nothing', async () => {
    const key = randomUUID();
    expect((await note(operator, key, `first ${key}`)).status).toBe(201);

    const otherBody = await note(operator, key, `second ${key}`);
    const otherLot = await note(operator, key, `first ${key}`, 3);

    for (const response of [otherBody, otherLot]) {
      expect(response.status).toBe(422);
      expect(((await response.json()) as Envelope).error).toMatchObject({ code: 'IDEMPOTENCY_KEY_MISMATCH', retryable: false });
    }
    expect(await stored(`second ${key}`)).toBe(0);
    expect(await stored(`first ${key}`)).toBe(1);
  });

  it('scopes keys to the signed-in user', async () => {
    const key = randomUUID();
    const text = `per user ${key}`;
    expect((await note(operator, key, text)).status).toBe(201);
    const theirs = await note(other, key, text);
    expect(theirs.status).toBe(201);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
    expect(await stored(text)).toBe(2);
  });

  it('rejects a malformed key with 400 VALIDATION_FAILED and writes nothing', async () => {
    for (const key of ['has space', 'x'.repeat(129), 'semi;colon', 'slash/key']) {
      const text = `bad key ${randomUUID()}`;
      const response = await note(operator, key, text);
      expect(response.status, key).toBe(400);
      expect(((await response.json()) as Envelope).error.code).toBe('VALIDATION_FAILED');
      expect(await stored(text)).toBe(0);
    }
    expect((await note(operator, 'a.b_c:d-E9', `ok key ${randomUUID()}`)).status).toBe(201);
  });

  it('does not remember an error: the repeat of a failed request runs again', async () => {
    const key = randomUUID();
    const first = await note(operator, key, 'no such lot', 999_999);
    const second = await note(operator, key, 'no such lot', 999_999);
    expect([first.status, second.status]).toEqual([404, 404]);
    expect(second.headers.get('idempotent-replayed')).toBeNull();
    expect(await app.db.query('SELECT 1 FROM idempotency_keys WHERE key = $1', [key])).toHaveLength(0);
  });

  it('answers a duplicate that arrives while the first is still running with 409 IDEMPOTENCY_IN_PROGRESS and Retry-After', async () => {
    const key = randomUUID();
    const text = `concurrent ${key}`;
    const lock = await lockTables(app.db.url, ['lot_notes']);
    let first: Promise<Response>;
    try {
      first = note(operator, key, text);
      // The first holds the key's lock and waits on the table lock.
      await waitFor(async () => (await app.db.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO lot_notes%'`)).length > 0);
      const started = Date.now();
      const duplicate = await note(operator, key, text);
      expect(Date.now() - started, 'answered at once, not queued behind the first').toBeLessThan(1000);
      expect(duplicate.status).toBe(409);
      expect(duplicate.headers.get('retry-after')).toBe('1');
      expect(((await duplicate.json()) as Envelope).error).toMatchObject({ code: 'IDEMPOTENCY_IN_PROGRESS', retryable: true, retryAfterMs: 1000 });
    } finally {
      await lock.release();
    }
    expect((await first).status).toBe(201);
    const replay = await note(operator, key, text);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await stored(text)).toBe(1);
  });

  it('honours the key on POST /admin/api/worker/restart: the supervisor is asked once', async () => {
    const admin = await loginWith(app.url, TEST_ADMIN.username, TEST_ADMIN.password);
    const workers = app.app.get(WorkerControl);
    const real = await workers.status();
    const status = vi.spyOn(workers, 'status').mockResolvedValue({ ...real, policy: { ...real.policy, state: 'allowed' } } as SupervisorStatus);
    const restart = vi
      .spyOn(workers, 'requestRollingRestart')
      .mockImplementation(async (request) => ({ status: 'running', restartId: request.restartId ?? 'r1', alreadyRunning: false, override: false }) as RolloutResult);
    try {
      const key = randomUUID();
      const body = { reason: 'test: keyed restart' };
      const first = await admin.post('/admin/api/worker/restart', body, { headers: { 'Idempotency-Key': key } });
      const second = await admin.post('/admin/api/worker/restart', body, { headers: { 'Idempotency-Key': key } });
      expect([first.status, second.status]).toEqual([202, 202]);
      const firstBody: unknown = await first.json();
      expect(await second.json()).toEqual(firstBody);
      expect(second.headers.get('idempotent-replayed')).toBe('true');
      expect(restart).toHaveBeenCalledTimes(1);
      const mismatch = await admin.post('/admin/api/worker/restart', { reason: 'another' }, { headers: { 'Idempotency-Key': key } });
      expect(mismatch.status).toBe(422);
    } finally {
      status.mockRestore();
      restart.mockRestore();
    }
  });

  it('purges answers older than the retention and keeps younger ones', async () => {
    const old = randomUUID();
    const young = randomUUID();
    await app.db.query(
      `INSERT INTO idempotency_keys (user_id, key, fingerprint, status, response, created_at)
       VALUES ($1, $2, 'f', 201, '{}', now() - interval '25 hours'), ($1, $3, 'f', 201, '{}', now() - interval '23 hours')`,
      [operator.user.id, old, young],
    );
    expect(await app.app.get(IdempotencyService).purgeExpired()).toBeGreaterThanOrEqual(1);
    const left = await app.db.query<{ key: string }>('SELECT key FROM idempotency_keys WHERE key = ANY($1)', [[old, young]]);
    expect(left.map((r) => r.key)).toEqual([young]);
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
