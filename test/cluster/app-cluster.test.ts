import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { ADMIN_URL, createTestDatabase, type TestDatabase } from '../support/database.js';
import { type BrowserSession as Session, loginWith as login } from '../support/session.js';
import { spawnApp, type AppProcess } from '../support/process.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../support/redis.js';

/**
 * The real application under its cluster supervisor (`WORKERS=2`), built as `npm start` runs
 * it, driven over HTTP like an operator would: the admin API for restarts, /health/deep and
 * worker/status for the policy, the audit log for what was done.
 */
const WATCHDOG_TIMEOUT_MS = 3000;
const ADMIN_PASSWORD = 'cluster-admin-password';

interface WorkerView {
  pid: number | null;
  state: string;
}
interface WorkerStatusView {
  mode: string;
  workers: WorkerView[];
  policy: { state: string; restartsInWindow: number; cooldownRemainingS: number; nextAction: string };
  rollout: { restartId: string; status: string; code: string | null } | null;
}

async function asAdmin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

describe('cluster supervisor with the real application', () => {
  let db: TestDatabase;
  let proc: AppProcess;
  let admin: Session;

  const api = async <T>(path: string, init: RequestInit = {}, timeoutMs = 5000): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${proc.url}${path}`, { ...init, headers: admin.headers(init.headers as Record<string, string>), signal: AbortSignal.timeout(timeoutMs) });
    return { status: response.status, body: (await response.json()) as T };
  };
  /** Status from whichever worker answers; a blocked worker simply times out and another is asked. */
  const workerStatus = async (): Promise<WorkerStatusView> => {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const { status, body } = await api<WorkerStatusView>('/admin/api/worker/status', {}, 1500);
        if (status === 200) return body;
      } catch (error) {
        if (attempt > 20) throw error;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const waitFor = async (what: string, predicate: (s: WorkerStatusView) => boolean, timeoutMs: number): Promise<WorkerStatusView> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await workerStatus();
      if (predicate(status)) return status;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(status)}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  };
  const readyPids = (s: WorkerStatusView) => s.workers.filter((w) => w.state === 'ready').map((w) => w.pid);

  beforeAll(async () => {
    db = await createTestDatabase();
    proc = await spawnApp({
      NODE_ENV: 'test',
      WORKERS: '2',
      DATABASE_URL: db.url,
      REDIS_URL: SHARED_REDIS_URL,
      REDIS_KEY_PREFIX: uniquePrefix(),
      ADMIN_BOOTSTRAP_PASSWORD: ADMIN_PASSWORD,
      SEED_LOTS: '50',
      ENABLE_TEST_HOOKS: 'true',
      WATCHDOG_TIMEOUT_MS: String(WATCHDOG_TIMEOUT_MS),
      WATCHDOG_LAG_MS: '1000',
      WATCHDOG_LAG_BEATS: '2',
      WORKER_READY_TIMEOUT_MS: '15000',
      RESTART_CHURN_MAX: '3',
      RESTART_CHURN_WINDOW_S: '600',
      RESTART_COOLDOWN_S: '0',
      SHUTDOWN_TIMEOUT_MS: '5000',
      RATE_LIMIT_ACCOUNT_PER_MIN: '1000000',
      RATE_LIMIT_LOGIN_PER_MIN: '1000',
      LOG_LEVEL: 'info',
    }, { readyPattern: /cluster primary ready/ });
    admin = await login(proc.url, 'admin', ADMIN_PASSWORD);
  });
  afterAll(async () => {
    if (proc) {
      proc.kill('SIGTERM');
      const exited = await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (!exited) proc.kill('SIGKILL');
    }
    await db?.query('SELECT 1').catch(() => undefined);
    await db?.drop();
  });

  it('rolls every worker under a 50-connection keep-alive load with zero failed requests on one port', async () => {
    const before = await workerStatus();
    expect(before.mode).toBe('cluster');
    const oldPids = readyPids(before);
    expect(oldPids).toHaveLength(2);

    const agent = new Agent({ keepAlive: true, maxSockets: 50 });
    const latencies: { at: number; ms: number }[] = [];
    const failures: string[] = [];
    let stop = false;
    const one = () =>
      new Promise<void>((resolve) => {
        const started = performance.now();
        const req = request({ host: '127.0.0.1', port: proc.port, path: '/api/lots?limit=5', agent, headers: { cookie: admin.cookie } }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode !== 200) failures.push(`status ${res.statusCode}`);
            latencies.push({ at: Date.now(), ms: performance.now() - started });
            resolve();
          });
        });
        req.on('error', (error: NodeJS.ErrnoException) => {
          failures.push(error.code ?? error.message);
          resolve();
        });
        req.end();
      });
    const loops = Array.from({ length: 50 }, async () => {
      while (!stop) await one();
    });
    await new Promise((r) => setTimeout(r, 1500));
    const restartAt = Date.now();
    const restart = await api<{ restartId: string }>('/admin/api/worker/restart', { method: 'POST', body: JSON.stringify({ reason: 'test: zero-drop rolling restart' }) });
    expect(restart.status).toBe(202);
    const after = await waitFor('rollout to complete', (s) => s.rollout?.restartId === restart.body.restartId && s.rollout.status !== 'running', 60_000);
    const doneAt = Date.now();
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await Promise.all(loops);
    agent.destroy();

    expect(after.rollout?.status).toBe('completed');
    const newPids = readyPids(after);
    expect(newPids).toHaveLength(2);
    for (const pid of newPids) expect(oldPids).not.toContain(pid);
    expect(failures).toEqual([]);
    const beforeMs = latencies.filter((l) => l.at < restartAt).map((l) => l.ms).sort((a, b) => a - b);
    const duringMs = latencies.filter((l) => l.at >= restartAt && l.at <= doneAt).map((l) => l.ms).sort((a, b) => a - b);
    console.info(
      `[rolling-restart] requests=${latencies.length} errors=${failures.length} rollout=${doneAt - restartAt}ms ` +
        `p99 before=${percentile(beforeMs, 99).toFixed(1)}ms during=${percentile(duringMs, 99).toFixed(1)}ms (n=${duringMs.length})`,
    );
  });

  it('stops a rollout whose replacement cannot become ready, and keeps serving', async () => {
    const before = await workerStatus();
    // New connections to the database are refused; the running workers keep their pooled ones.
    await asAdmin(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS false`);
    try {
      const restart = await api<{ restartId: string }>('/admin/api/worker/restart', { method: 'POST', body: JSON.stringify({ reason: 'test: replacement cannot start' }) });
      expect(restart.status).toBe(202);
      const after = await waitFor('rollout to stop', (s) => s.rollout?.restartId === restart.body.restartId && s.rollout.status !== 'running', 30_000);
      expect(after.rollout?.status).toBe('failed');
      expect(readyPids(after).sort()).toEqual(readyPids(before).sort());
      for (let i = 0; i < 10; i += 1) {
        const { status } = await api('/api/lots?limit=1');
        expect(status).toBe(200);
      }
    } finally {
      await asAdmin(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS true`);
    }
  });

  it('replaces a worker whose event loop is blocked within WATCHDOG_TIMEOUT_MS + 2 s', async () => {
    const before = await workerStatus();
    const blocked = await api<{ pid: number }>('/__test/block-event-loop', { method: 'POST', body: JSON.stringify({ ms: 30_000 }) });
    expect(blocked.status).toBe(202);
    const started = Date.now();
    // Replaced: the hung worker is gone and a new one holds its slot (it may still be starting).
    await waitFor(
      'blocked worker to be retired',
      (s) => !s.workers.some((w) => w.pid === blocked.body.pid) && s.workers.length === 2,
      WATCHDOG_TIMEOUT_MS + 10_000,
    );
    const tookMs = Date.now() - started;
    const after = await waitFor('replacement ready', (s) => readyPids(s).length === 2, 30_000);
    console.info(`[watchdog] blocked pid ${blocked.body.pid} retired and replacement forked after ${tookMs} ms; ready after ${Date.now() - started} ms`);
    expect(tookMs).toBeLessThan(WATCHDOG_TIMEOUT_MS + 2000);
    expect(readyPids(after)).not.toContain(blocked.body.pid);
    expect(before.workers.length).toBe(2);
  });

  it('blocks automatic restarts past the churn threshold, refuses an unacknowledged restart and audits an override', async () => {
    // Counted so far: one watchdog replacement (the two rollouts are planned, never counted).
    // Crashes (kill -9 of a worker) count; each is refilled while the other worker serves.
    let status = await workerStatus();
    while (status.policy.state !== 'blocked') {
      const victim = readyPids(status)[0]!;
      process.kill(victim, 'SIGKILL');
      status = await waitFor('crashed worker replaced', (s) => readyPids(s).length === 2 && !readyPids(s).includes(victim), 30_000);
    }
    expect(status.policy.restartsInWindow).toBeGreaterThan(3);
    const deep = await fetch(`${proc.url}/health/deep`);
    const deepBody = (await deep.json()) as { resilience: { policy: { state: string } } };
    expect(deepBody.resilience.policy.state).toBe('blocked');

    const refused = await api<{ error: { code: string } }>('/admin/api/worker/restart', { method: 'POST', body: JSON.stringify({ reason: 'test: no ack' }) });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('RESTART_BLOCKED');

    const reason = 'INC-42 override after churn';
    const override = await api<{ restartId: string }>('/admin/api/worker/restart', {
      method: 'POST',
      body: JSON.stringify({ reason, acknowledgeOverride: true }),
    });
    expect(override.status).toBe(202);
    await waitFor('override rollout', (s) => s.rollout?.restartId === override.body.restartId && s.rollout.status !== 'running', 60_000);
    const audit = await db.query<{ reason: string; outcome: string; details: { override?: boolean } }>(
      `SELECT reason, outcome, details FROM admin_audit_log WHERE reason = $1 ORDER BY id`,
      [reason],
    );
    expect(audit.map((a) => a.outcome)).toEqual(['requested (override)', 'started']);
    const refusedRows = await db.query<{ outcome: string }>(`SELECT outcome FROM admin_audit_log WHERE reason = 'test: no ack'`);
    expect(refusedRows.map((r) => r.outcome)).toEqual(['refused: RESTART_BLOCKED']);
  });
});
