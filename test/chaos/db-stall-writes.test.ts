import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockTables, type TestDatabase } from '../support/database.js';
import type { AppProcess } from '../support/process.js';
import { createUser, loginWith, type BrowserSession, type TestUser } from '../support/session.js';
import type { FaultProxy } from './support/fault-proxy.js';
import { startProxiedApp, type ProxiedApp } from './support/proxied-app.js';
import { recoveryMs, sleep, UserLoad, verifyWrites, waitFor } from './support/user-load.js';
import { reportFigures } from './support/figures.js';

// Short, so a stall of a few seconds times out many writes at every stage of their transaction.
const QUERY_TIMEOUT_MS = 1000;
const STALL_MS = 3500;
const UNKNOWN_OUTCOME = /outcome is unknown/;

/**
 * Issue 12, part 4: a stalled link to PostgreSQL (bytes held, delivered when it heals, as TCP
 * does after a partition) while operators write notes. A write answered with an error must not
 * be stored, except one whose answer said its outcome is unknown (its COMMIT was in flight),
 * and retrying that one with its Idempotency-Key must not store it twice.
 */
describe('chaos: PostgreSQL stalls under write load', () => {
  let env: ProxiedApp;
  let db: TestDatabase;
  let proxy: FaultProxy;
  let app: AppProcess;
  let users: TestUser[];

  beforeAll(async () => {
    env = await startProxiedApp({ DB_QUERY_TIMEOUT_MS: String(QUERY_TIMEOUT_MS) });
    ({ db, proxy, app } = env);
    users = await Promise.all(Array.from({ length: 6 }, () => createUser({ db }, 'operator')));
  });
  afterAll(async () => {
    await env?.close();
  });

  const sessionOf = (user: TestUser) => loginWith(app.url, user.username, user.password);
  const note = (session: BrowserSession, key: string, text: string, lot = 1) =>
    session.post(`/api/lots/${lot}/notes`, { text }, { headers: { 'Idempotency-Key': key } });
  const storedCount = async (text: string) =>
    (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM lot_notes WHERE text = $1', [text]))[0]!.n;

  it('stores no write it answered with an error, except those it said had an unknown outcome; retrying those with their key stores each once', async () => {
    const load = await UserLoad.start(app.url, users, { writeOnly: true, pauseMs: 30 });
    await sleep(1500);
    proxy.stall();
    await sleep(STALL_MS);
    proxy.pass();
    const healedAt = Date.now();
    await sleep(3000);
    const result = await load.stop();
    const verdict = await verifyWrites(db.url, result.writes);

    const failed = result.writes.filter((w) => !w.acknowledged);
    const timedOut = failed.filter((w) => w.code === 'DB_QUERY_TIMEOUT');
    const unknown = failed.filter((w) => w.message !== null && UNKNOWN_OUTCOME.test(w.message));
    const recovery = recoveryMs(result.samples, healedAt);
    reportFigures(
      `[db-stall-writes] writes ${result.writes.length}, acknowledged ${verdict.acknowledged}, failed ${failed.length} ` +
        `(codes ${JSON.stringify(result.codes)}), DB_QUERY_TIMEOUT ${timedOut.length}, said "outcome unknown" ${unknown.length}, ` +
        `stored without acknowledgement ${verdict.unacknowledgedStored}, recovery ${recovery} ms`,
    );

    // The fault really cut writes off mid-flight.
    expect(timedOut.length).toBeGreaterThan(0);
    expect(result.violations).toEqual([]);
    expect(verdict.missing).toEqual([]);
    expect(verdict.duplicates).toEqual([]);
    // Stored without a 2xx only where the answer admitted the outcome was unknown.
    expect(verdict.unacknowledgedStoredAnswers.filter((answer) => !UNKNOWN_OUTCOME.test(answer))).toEqual([]);
    expect(recovery).not.toBeNull();
    expect(recovery!).toBeLessThanOrEqual(5000);

    // What a client does with any failed write: retry it with the same key. Each is then stored
    // exactly once, whether or not its first attempt had landed.
    const sessions = await Promise.all(users.map(sessionOf));
    for (const write of failed) {
      const user = Number(write.key.split('.')[1]);
      const retry = await note(sessions[user]!, write.key, write.text, write.lotId);
      expect(retry.status, `${write.key}: ${await retry.clone().text()}`).toBe(201);
    }
    const afterRetries = await verifyWrites(db.url, failed.map((w) => ({ ...w, acknowledged: true })));
    expect(afterRetries.missing).toEqual([]);
    expect(afterRetries.duplicates).toEqual([]);
  });

  it('answers a repeated key with the stored note (Idempotent-Replayed) and another body with 422, over the proxied link', async () => {
    const session = await sessionOf(users[0]!);
    const key = `seq-${Date.now()}`;
    const first = await note(session, key, `${key} text`);
    const again = await note(session, key, `${key} text`);
    expect([first.status, again.status]).toEqual([201, 201]);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(await first.json());
    expect(await storedCount(`${key} text`)).toBe(1);

    const other = await note(session, key, `${key} another text`);
    expect(other.status).toBe(422);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('IDEMPOTENCY_KEY_MISMATCH');
    expect(await storedCount(`${key} another text`)).toBe(0);
  });

  it('answers a concurrent duplicate with 409 IDEMPOTENCY_IN_PROGRESS and Retry-After while the first waits on a lock', async () => {
    const session = await sessionOf(users[1]!);
    const key = `concurrent-${Date.now()}`;
    const lock = await lockTables(db.url, ['lot_notes']);
    let first: Promise<Response> | undefined;
    try {
      first = note(session, key, `${key} text`);
      const waiting = await waitFor(
        async () => (await db.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO lot_notes%'`)).length > 0,
        QUERY_TIMEOUT_MS / 2,
        20,
      );
      expect(waiting, 'the first request is waiting on the lock').not.toBeNull();
      const duplicate = await note(session, key, `${key} text`);
      expect(duplicate.status).toBe(409);
      expect(duplicate.headers.get('retry-after')).not.toBeNull();
      expect(((await duplicate.json()) as { error: { code: string; retryable: boolean } }).error).toMatchObject({
        code: 'IDEMPOTENCY_IN_PROGRESS',
        retryable: true,
      });
    } finally {
      await lock.release();
    }
    // Under DB_QUERY_TIMEOUT_MS the lock may outlast the first: either way, it is stored at most once.
    const firstStatus = (await first!).status;
    expect([201, 504]).toContain(firstStatus);
    expect(await storedCount(`${key} text`)).toBe(firstStatus === 201 ? 1 : 0);
  });
});
