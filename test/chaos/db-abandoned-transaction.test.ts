import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockTables, type TestDatabase } from '../support/database.js';
import type { AppProcess } from '../support/process.js';
import { createUser, loginWith } from '../support/session.js';
import type { FaultProxy } from './support/fault-proxy.js';
import { startProxiedApp, type ProxiedApp } from './support/proxied-app.js';
import { sleep } from './support/user-load.js';
import { reportFigures } from './support/figures.js';

const QUERY_TIMEOUT_MS = 1000;

/**
 * A write whose link vanished mid-transaction leaves, on the server, a session that never
 * hears from Rampart again: it holds the transaction's locks (the Idempotency-Key's advisory
 * lock included) until the server notices the dead peer, which by TCP keepalive alone takes
 * hours. The retry the contract invites ("a retry with the same Idempotency-Key is safe") would
 * be told IDEMPOTENCY_IN_PROGRESS all that time. Rampart's connections therefore ask the server
 * to end a transaction it has left idle (`idle_in_transaction_session_timeout`).
 */
describe('chaos: a transaction abandoned by a vanished link', () => {
  let env: ProxiedApp;
  let db: TestDatabase;
  let proxy: FaultProxy;
  let app: AppProcess;

  beforeAll(async () => {
    env = await startProxiedApp({ DB_QUERY_TIMEOUT_MS: String(QUERY_TIMEOUT_MS) });
    ({ db, proxy, app } = env);
  });
  afterAll(async () => {
    await env?.close();
  });

  it('is ended by the server soon after, so a retry with the same key is stored once', async () => {
    const user = await createUser({ db }, 'operator');
    const session = await loginWith(app.url, user.username, user.password);
    const text = 'written while the link vanished';
    const post = () => session.post('/api/lots/1/notes', { text }, { headers: { 'Idempotency-Key': 'vanish-1' } });

    // The INSERT waits on a lock taken outside Rampart; the link vanishes while it waits, then
    // the lock goes: the INSERT completes on the server, its answer is lost, and the server waits
    // for a COMMIT or ROLLBACK that never comes, holding the key's advisory lock.
    const lock = await lockTables(db.url, ['lot_notes']);
    const first = post();
    await sleep(300);
    proxy.vanish();
    await lock.release();
    const firstAnswer = await first;
    expect([503, 504]).toContain(firstAnswer.status);
    const [zombie] = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rampart:main' AND state = 'idle in transaction'",
    );
    proxy.pass();

    const started = Date.now();
    let status = 0;
    const seen: number[] = [];
    while (Date.now() - started < 12_000) {
      const answer = await post();
      status = answer.status;
      seen.push(status);
      if (status === 201) break;
      await sleep(Number(answer.headers.get('retry-after') ?? '1') * 1000);
    }
    const retriedFor = Date.now() - started;
    reportFigures(`[db-abandoned-transaction] first answer ${firstAnswer.status}, sessions left idle in transaction ${zombie!.n}; retry stored after ${retriedFor} ms; answers ${seen.join(',')}`);
    expect(status).toBe(201);
    const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM lot_notes WHERE text = $1', [text]);
    expect(row!.n).toBe(1);
  });
});
