import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterEnv, stopCluster } from '../cluster/support/cluster-app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { responseValidator } from '../support/openapi-validator.js';
import { spawnApp, type AppProcess } from '../support/process.js';
import { loginWith, type BrowserSession } from '../support/session.js';

/**
 * The console's history and recent lines in cluster mode (WORKERS=2) come from every worker
 * through the primary (heartbeats carry them), with no Prometheus; and the admin API's cluster
 * answers (a finished rollout, worker exits) validate against /api/docs-json.
 */
const ADMIN_PASSWORD = 'console-cluster-admin-password';

interface WorkerStatus {
  mode: string;
  workers: Array<{ pid: number | null; state: string; heapUsedBytes?: number; lastExit?: { code: number | null; signal: string | null } }>;
  rollout: { status: string; replaced: number; total: number } | null;
}

describe('console incident view, cluster (WORKERS=2)', () => {
  let db: TestDatabase;
  let proc: AppProcess;
  let admin: BrowserSession;

  beforeAll(async () => {
    db = await createTestDatabase();
    proc = await spawnApp(clusterEnv(db, ADMIN_PASSWORD, { SEED_LOTS: '10', SHUTDOWN_TIMEOUT_MS: '3000' }), { readyPattern: /cluster primary ready/ });
    admin = await loginWith(proc.url, 'admin', ADMIN_PASSWORD);
  }, 90_000);

  afterAll(async () => {
    await stopCluster(proc);
    await db?.drop();
  }, 30_000);

  it('shows both workers\' history and their warn lines, gathered by the primary', async () => {
    // Fresh connections, so the primary's round robin reaches both workers.
    const missing = await Promise.all(Array.from({ length: 6 }, () => admin.get('/api/no-such-route', { headers: { connection: 'close' } })));
    const ids = await Promise.all(missing.map(async (r) => ((await r.json()) as { error: { code: string; correlationId: string } }).error));
    expect(ids.every((e) => e.code === 'NOT_FOUND')).toBe(true);
    let html = '';
    await expect
      .poll(
        async () => {
          html = await (await admin.get('/admin/incident?minutes=15')).text();
          const workers = new Set([...html.matchAll(/worker (\d+) \(slot (\d+), pid \d+\)/g)].map((m) => m[2]));
          return { slots: workers.size, lines: ids.filter((e) => html.includes(e.correlationId)).length };
        },
        { timeout: 15_000, interval: 500 },
      )
      .toEqual({ slots: 2, lines: 6 });
    expect(html).toContain('NOT_FOUND');
    const processes = new Set([...html.matchAll(/<td>(worker \d+ pid \d+)<\/td><\/tr>/g)].map((m) => m[1]));
    expect(processes.size).toBe(2);
  }, 60_000);

  it('a finished rolling restart and the replaced workers validate against /api/docs-json', async () => {
    const contract = await responseValidator(proc.url);
    const started = await admin.post('/admin/api/worker/restart', { reason: 'contract check in cluster mode' });
    expect(started.status).toBe(202);
    let status: WorkerStatus | null = null;
    await expect
      .poll(
        async () => {
          status = (await (await admin.get('/admin/api/worker/status')).json()) as WorkerStatus;
          return status.rollout?.status;
        },
        { timeout: 45_000, interval: 500 },
      )
      .toBe('completed');
    const body = status as unknown as WorkerStatus;
    expect(body.rollout).toMatchObject({ replaced: 2, total: 2 });
    expect(contract.problems('/admin/api/worker/status', 'get', 200, body)).toEqual([]);
    // Each replacement's row says how its predecessor ended (a planned exit, code 0).
    expect(body.workers.filter((w) => w.state === 'ready').map((w) => w.lastExit?.code)).toEqual([0, 0]);
    // Heap comes with each heartbeat: a worker that just became ready has it within a beat.
    await expect
      .poll(async () => ((await (await admin.get('/admin/api/worker/status')).json()) as WorkerStatus).workers.map((w) => typeof w.heapUsedBytes), { timeout: 5000 })
      .toEqual(['number', 'number']);
    const system = (await (await admin.get('/admin/api/system-status')).json()) as unknown;
    expect(contract.problems('/admin/api/system-status', 'get', 200, system)).toEqual([]);
  }, 90_000);

  it('a crashed worker: its row says how it ended, and the primary\'s line about it is in the recent list', async () => {
    const before = (await (await admin.get('/admin/api/worker/status')).json()) as WorkerStatus;
    const victim = before.workers.find((w) => w.state === 'ready' && w.pid !== null)!;
    process.kill(victim.pid!, 'SIGKILL');
    await expect
      .poll(
        async () => {
          const status = (await (await admin.get('/admin/api/worker/status', { headers: { connection: 'close' } })).json()) as WorkerStatus;
          return status.workers.some((w) => w.lastExit?.signal === 'SIGKILL' && (w.lastExit as { unexpected?: boolean }).unexpected === true);
        },
        { timeout: 15_000, interval: 300 },
      )
      .toBe(true);
    await expect
      .poll(async () => {
        const html = await (await admin.get('/admin/incident', { headers: { connection: 'close' } })).text();
        return /worker exited unexpectedly<\/td><td class="cid"><\/td><td>primary<\/td>/.test(html);
      }, { timeout: 10_000, interval: 500 })
      .toBe(true);
  }, 60_000);
});
