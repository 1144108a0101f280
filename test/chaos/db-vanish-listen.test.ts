import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { spawnApp, type AppProcess } from '../support/process.js';
import { createUser, loginWith, SESSION_TEST_ENV } from '../support/session.js';
import { FaultProxy } from './support/fault-proxy.js';
import { recoveryMs, sleep, UserLoad, verifyWrites } from './support/user-load.js';
import { reportFigures } from './support/figures.js';

const ADMIN_PASSWORD = 'chaos-admin-password';

/** The frames of an SSE response as they arrive, each with its arrival time. */
function sseReader(response: Response) {
  const stream = response.body!.getReader();
  const decoder = new TextDecoder();
  const frames: { at: number; text: string }[] = [];
  let buffer = '';
  const pump = (async () => {
    for (;;) {
      const { done, value } = await stream.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        frames.push({ at: Date.now(), text: buffer.slice(0, end) });
        buffer = buffer.slice(end + 2);
      }
    }
  })().catch(() => undefined);
  return {
    frames,
    async waitFor(predicate: (frame: { at: number; text: string }) => boolean, timeoutMs: number) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = frames.find(predicate);
        if (found) return found;
        if (Date.now() > deadline) return null;
        await sleep(20);
      }
    },
    async cancel() {
      await stream.cancel().catch(() => undefined);
      await pump;
    },
  };
}

const changeOfLot =
  (id: number, after = 0) =>
  (frame: { at: number; text: string }) =>
    frame.at >= after && frame.text.includes('event: change') && frame.text.includes('"entity":"lot"') && frame.text.includes(`"id":${id},`);

/*
 * PostgreSQL vanishes without FIN or RST (power loss, a dropped NAT entry), then returns. The
 * listen connection through the proxy stays "open" for the kernel (the proxy ACKs), so only the
 * connection's own probe can notice. Before the fix the stream stayed silent for good while
 * still sending heartbeats.
 */
describe('chaos: PostgreSQL vanishes silently, then returns', () => {
  let db: TestDatabase;
  let proxy: FaultProxy;
  let proc: AppProcess | null = null;
  afterAll(async () => {
    proc?.kill('SIGKILL');
    if (proc) await proc.exited;
    await proxy?.close();
    await db?.drop();
  });

  it('the live stream delivers lot changes again, and requests are served again, within 5 s of the database returning', async () => {
    db = await createTestDatabase('rampart_chaos');
    const target = new URL(db.url);
    proxy = await FaultProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
    proc = await spawnApp({
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      DATABASE_URL: proxy.url(db.url),
      SEED_LOTS: '10',
      ADMIN_BOOTSTRAP_PASSWORD: ADMIN_PASSWORD,
      SHUTDOWN_DRAIN_DELAY_MS: '0',
      SSE_HEARTBEAT_MS: '500',
      REALTIME_PROBE_INTERVAL_MS: '500',
      REALTIME_PROBE_TIMEOUT_MS: '1000',
      ...SESSION_TEST_ENV,
    });
    const session = await loginWith(proc.url, 'admin', ADMIN_PASSWORD);
    const response = await fetch(`${proc.url}/api/events/stream`, { headers: { cookie: session.cookie } });
    expect(response.status).toBe(200);
    const sse = sseReader(response);
    const users = await Promise.all([0, 1, 2, 3].map(() => createUser({ db }, 'operator')));
    const load = await UserLoad.start(proc.url, users, { pauseMs: 20 });
    try {
      // Changes are made straight in PostgreSQL, past the proxy: only the app's side is cut.
      await db.query(`UPDATE lots SET priority = priority + 1 WHERE id = 3`);
      expect(await sse.waitFor(changeOfLot(3), 5000), 'a change before the fault').not.toBeNull();

      // A pool as a busy hour leaves it: more open connections than the load now needs, so some
      // sit idle through the outage (and die there silently).
      proxy.latency(100);
      await Promise.all(Array.from({ length: 14 }, () => session.get('/api/lots?limit=5')));
      proxy.latency(0);

      const vanishedAt = Date.now();
      proxy.vanish();
      await sleep(4000);
      // While the database is away nothing arrives, but the stream itself stays open.
      await db.query(`UPDATE lots SET priority = priority + 1 WHERE id = 4`);
      proxy.pass();
      const healedAt = Date.now();

      let delivered: { at: number } | null = null;
      while (!delivered && Date.now() - healedAt < 8000) {
        await db.query(`UPDATE lots SET priority = priority + 1 WHERE id = 5`);
        delivered = await sse.waitFor(changeOfLot(5, healedAt), 200);
      }
      const heartbeatsDuringOutage = sse.frames.filter((f) => f.at > vanishedAt && f.at < healedAt && f.text.includes(': heartbeat')).length;
      const recovery = delivered ? delivered.at - healedAt : null;
      const output = proc.output();
      const lostLine = output.split('\n').find((line) => line.includes('realtime sync lost its database connection'));
      const detectedMs = lostLine ? Date.parse((JSON.parse(lostLine) as { time: string }).time) - vanishedAt : null;
      reportFigures(`[chaos db-vanish-listen] listen loss noticed ${detectedMs} ms after the vanish; stream delivering again ${recovery} ms after the database returned`);

      // The request pool, under the same outage: its idle connections died silently too.
      await sleep(Math.max(0, healedAt + 6000 - Date.now()));
      const result = await load.stop();
      const served = recoveryMs(result.samples, healedAt);
      const verdict = await verifyWrites(db.url, result.writes);
      reportFigures(
        `[chaos db-vanish-listen] requests ${result.requests}, statuses ${JSON.stringify(result.statuses)}, codes ${JSON.stringify(result.codes)}, ` +
          `requests served again ${served} ms after the database returned; writes acknowledged ${verdict.acknowledged}, unacknowledged ${verdict.unacknowledged} (stored ${verdict.unacknowledgedStored})`,
      );
      expect(result.violations).toEqual([]);
      expect(result.fetchErrors).toEqual({});
      expect(served).not.toBeNull();
      expect(served!).toBeLessThanOrEqual(5000);
      expect(verdict.missing).toEqual([]);
      expect(verdict.duplicates).toEqual([]);

      expect(heartbeatsDuringOutage).toBeGreaterThan(0);
      expect(recovery, output.slice(-3000)).not.toBeNull();
      expect(recovery!).toBeLessThanOrEqual(5000);
      expect(proc.child.exitCode).toBeNull();
    } finally {
      await load.stop();
      await sse.cancel();
    }
  });
});
