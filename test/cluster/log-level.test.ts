import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { spawnApp, type AppProcess } from '../support/process.js';
import { loginWith, type BrowserSession } from '../support/session.js';
import { clusterEnv, stopCluster } from './support/cluster-app.js';

/**
 * PUT /admin/api/log-level: a temporary level for every worker, through the primary, audited,
 * shown in system status. The revert timer itself is covered with fake timers in
 * src/observability/log-level.spec.ts and src/cluster/supervisor.spec.ts.
 */
const ADMIN_PASSWORD = 'log-level-admin-password';

interface SystemStatus {
  workers: Array<{ pid: number | null; state: string }>;
  logLevel: { level: string; configured: string; override: { level: string; revertsAt: string; reason: string; setBy: string } | null };
}

/** A fresh connection per request, so the primary's round robin spreads them over the workers. */
function probe(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/health/ready`, { agent: false, timeout: 3000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

function debugLinePids(output: string): Set<number> {
  const pids = new Set<number>();
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { level?: string; msg?: string; pid?: number };
    if (entry.level === 'debug' && entry.msg === 'GET /health/ready 200' && typeof entry.pid === 'number') pids.add(entry.pid);
  }
  return pids;
}

describe('runtime log level, cluster (WORKERS=2)', () => {
  let db: TestDatabase;
  let proc: AppProcess;
  let admin: BrowserSession;

  beforeAll(async () => {
    db = await createTestDatabase();
    proc = await spawnApp(
      clusterEnv(db, ADMIN_PASSWORD, { SEED_LOTS: '10', SHUTDOWN_TIMEOUT_MS: '3000' }),
      { readyPattern: /cluster primary ready/ },
    );
    admin = await loginWith(proc.url, 'admin', ADMIN_PASSWORD);
  });
  afterAll(async () => {
    await stopCluster(proc);
    await db?.drop();
  });

  it('refuses without CSRF, with a level or minutes out of bounds, or without a reason', async () => {
    const put = (body: unknown, headers: Record<string, string> = admin.headers()) =>
      fetch(`${proc.url}/admin/api/log-level`, { method: 'PUT', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(5000) });
    const { 'x-csrf-token': _token, ...noCsrf } = admin.headers();
    expect((await put({ level: 'debug', minutes: 1, reason: 'no token' }, noCsrf)).status).toBe(403);
    expect((await put({ level: 'silent', minutes: 1, reason: 'too quiet' })).status).toBe(400);
    expect((await put({ level: 'verbose', minutes: 1, reason: 'not pino' })).status).toBe(400);
    expect((await put({ level: 'debug', minutes: 0, reason: 'zero' })).status).toBe(400);
    expect((await put({ level: 'debug', minutes: 1441, reason: 'over a day' })).status).toBe(400);
    expect((await put({ level: 'debug', minutes: 1 })).status).toBe(400);
    expect(debugLinePids(proc.output()).size).toBe(0);
  });

  it('sets debug for a minute on both workers: both log debug lines; status and audit say so', async () => {
    for (let i = 0; i < 6; i += 1) expect(await probe(proc.url)).toBe(200);
    expect(debugLinePids(proc.output()).size).toBe(0); // info: successful probes are not logged

    const before = Date.now();
    const response = await fetch(`${proc.url}/admin/api/log-level`, {
      method: 'PUT',
      headers: admin.headers(),
      body: JSON.stringify({ level: 'debug', minutes: 1, reason: 'incident 42: chasing a probe' }),
      signal: AbortSignal.timeout(5000),
    });
    const body = (await response.json()) as { level: string; revertsAt: string; setBy: string };
    expect(response.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ level: 'debug', setBy: 'admin', reason: 'incident 42: chasing a probe' });
    const revertsIn = Date.parse(body.revertsAt) - before;
    expect(revertsIn).toBeGreaterThan(55_000);
    expect(revertsIn).toBeLessThan(65_000);

    const status = (await (await admin.get('/admin/api/system-status')).json()) as SystemStatus;
    const workerPids = status.workers.filter((w) => w.state === 'ready').map((w) => w.pid);
    expect(workerPids).toHaveLength(2);
    expect(status.logLevel).toMatchObject({ level: 'debug', configured: 'info', override: { level: 'debug', revertsAt: body.revertsAt } });

    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !workerPids.every((pid) => debugLinePids(proc.output()).has(pid!))) {
      await probe(proc.url);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect([...debugLinePids(proc.output())].sort()).toEqual([...workerPids].sort());

    const audit = (await (await admin.get('/admin/api/audit')).json()) as Array<{ action: string; outcome: string; reason: string }>;
    const rows = audit.filter((a) => a.action === 'log.level');
    expect(rows.map((a) => a.outcome)).toEqual(['applied', 'requested']);
    expect(rows[0]!.reason).toBe('incident 42: chasing a probe');
  });
});

describe('runtime log level, single process', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('applies to this process and shows in system status', async () => {
    const admin = await loginWith(app.url, TEST_ADMIN.username, TEST_ADMIN.password);
    const response = await admin.request('PUT', '/admin/api/log-level', { body: JSON.stringify({ level: 'trace', minutes: 5, reason: 'single mode check' }) });
    expect(response.status).toBe(200);
    expect(app.logger.level).toBe('trace');
    const status = (await (await admin.get('/admin/api/system-status')).json()) as SystemStatus;
    expect(status.logLevel.override).toMatchObject({ level: 'trace', reason: 'single mode check', setBy: 'admin' });
    // Put back, so the rest of the file's logs stay readable.
    app.logger.level = 'info';
  });
});
