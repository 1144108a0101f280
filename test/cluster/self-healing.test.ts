import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { type BrowserSession, loginWith as login } from '../support/session.js';
import { spawnApp, type AppProcess } from '../support/process.js';
import { reportFigures } from '../chaos/support/figures.js';
import { clusterEnv, stopCluster } from './support/cluster-app.js';

/**
 * Self-healing of the built application under its supervisor (`WORKERS=2`), with the
 * production churn settings (3 restarts in 600 s, 30 s cooldown): deploys must not switch it
 * off, and killing every worker must not leave the port dead for a backoff or cooldown.
 */
const ADMIN_PASSWORD = 'self-healing-admin-password';

interface WorkerStatusView {
  workers: { slot: number; pid: number | null; state: string }[];
  emptySlots: { slot: number; state: string; reason: string; refillInS: number }[];
  history: { kind: string; planned: boolean }[];
  policy: { state: string; restartsInWindow: number; plannedInWindow: number };
  rollout: { restartId: string; status: string } | null;
}

/** GET on a fresh connection; null when nothing answers. */
function liveStatus(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/health/live', agent: false, timeout: 500 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end();
  });
}

interface LogLine {
  /** Epoch ms (the log writes ISO time). */
  time: number;
  msg: string;
  pid?: number;
  slot?: number;
  startupMs?: number;
}

function logLines(output: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const parsed = JSON.parse(line) as Omit<LogLine, 'time'> & { time: string };
      lines.push({ ...parsed, time: Date.parse(parsed.time) });
    } catch {
      // a partial line at the end of the buffer
    }
  }
  return lines;
}

/**
 * How the refill after `since` went, from the primary's log: how long the supervisor waited
 * before forking (the policy's part) and how long the new worker took to start (the machine's).
 */
async function refillTimings(proc: AppProcess, since: number): Promise<{ decideMs: number; startupMs: number }> {
  // The primary's log is written asynchronously: the status can show the worker before its line.
  for (let attempt = 0; ; attempt += 1) {
    try {
      return refillTimingsOf(proc.output(), since);
    } catch (error) {
      if (attempt >= 20) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function refillTimingsOf(output: string, since: number): { decideMs: number; startupMs: number } {
  const lines = logLines(output).filter((l) => l.time >= since);
  const exited = lines.filter((l) => l.msg === 'worker exited unexpectedly').map((l) => l.time);
  const lastExit = Math.max(...exited);
  const forked = lines.find((l) => l.msg === 'worker forked' && l.time >= lastExit);
  const ready = lines.find((l) => l.msg === 'worker ready' && forked !== undefined && l.pid === forked.pid);
  if (!forked || !ready) throw new Error(`no refill in the log: ${JSON.stringify(lines.filter((l) => l.msg.startsWith('worker') || l.msg.includes('crash')).map((l) => [l.time - since, l.msg, l.pid]))}`);
  return { decideMs: forked.time - lastExit, startupMs: ready.startupMs ?? Number.NaN };
}

describe('self-healing that deploys cannot switch off', () => {
  let db: TestDatabase;
  let proc: AppProcess;
  let admin: BrowserSession;

  const api = async <T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${proc.url}${path}`, { ...init, headers: admin.headers(init.headers as Record<string, string>), signal: AbortSignal.timeout(3000) });
    return { status: response.status, body: (await response.json()) as T };
  };
  const status = async (): Promise<WorkerStatusView> => {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const { status: code, body } = await api<WorkerStatusView>('/admin/api/worker/status');
        if (code === 200) return body;
      } catch (error) {
        if (attempt > 30) throw error;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const waitFor = async (what: string, predicate: (s: WorkerStatusView) => boolean, timeoutMs: number): Promise<WorkerStatusView> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await status();
      if (predicate(s)) return s;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const readyPids = (s: WorkerStatusView) => s.workers.filter((w) => w.state === 'ready').map((w) => w.pid!);

  beforeAll(async () => {
    db = await createTestDatabase();
    proc = await spawnApp(
      clusterEnv(db, ADMIN_PASSWORD, {
        RESTART_CHURN_MAX: '3',
        RESTART_CHURN_WINDOW_S: '600',
        RESTART_COOLDOWN_S: '30',
        RESTART_BLOCKED_MAX_WAIT_S: '120',
        SHUTDOWN_TIMEOUT_MS: '3000',
      }),
      { readyPattern: /cluster primary ready/, detached: true },
    );
    admin = await login(proc.url, 'admin', ADMIN_PASSWORD);
  });
  afterAll(async () => {
    await stopCluster(proc);
    await db?.drop();
  });

  it('4 rolling restarts are recorded but leave the policy allowed, and a crash right after is refilled promptly', async () => {
    for (let i = 1; i <= 4; i += 1) {
      const restart = await api<{ restartId: string }>('/admin/api/worker/restart', { method: 'POST', body: JSON.stringify({ reason: `test: deploy ${i}` }) });
      expect(restart.status).toBe(202);
      const done = await waitFor('rollout', (s) => s.rollout?.restartId === restart.body.restartId && s.rollout.status !== 'running', 60_000);
      expect(done.rollout?.status).toBe('completed');
    }
    const afterDeploys = await status();
    expect(afterDeploys.policy).toMatchObject({ state: 'allowed', restartsInWindow: 0, plannedInWindow: 4 });
    expect(afterDeploys.history.filter((h) => h.kind === 'rolling' && h.planned)).toHaveLength(4);

    const victim = readyPids(afterDeploys)[0]!;
    const killedAt = Date.now();
    process.kill(victim, 'SIGKILL');
    const healed = await waitFor('the crashed slot to be refilled', (s) => readyPids(s).length === 2 && !readyPids(s).includes(victim), 10_000);
    const refillMs = Date.now() - killedAt;
    const timings = await refillTimings(proc, killedAt - 50);
    reportFigures(
      `[self-healing] after 4 deploys: kill -9 of one worker refilled (new worker ready) in ${refillMs} ms ` +
        `(supervisor waited ${timings.decideMs} ms: crash backoff, no cooldown; worker start ${timings.startupMs} ms); policy ${healed.policy.state}`,
    );
    // The first crash in the window: full-jitter backoff under 500 ms, no cooldown from the deploys.
    expect(timings.decideMs).toBeLessThan(700);
    expect(refillMs).toBeLessThan(timings.startupMs + 1500);
    expect(healed.policy.state).not.toBe('blocked');
  });

  it('kill -9 of every worker at once: a worker serves again within its start time (no backoff, no cooldown)', async () => {
    const before = await status();
    const pids = readyPids(before);
    expect(pids).toHaveLength(2);
    // The crash above started a 30 s cooldown: the empty cluster must not wait for it.
    expect(before.policy.state).toBe('cooling_down');
    const killedAt = Date.now();
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    let down = false;
    let servedAfterMs: number | null = null;
    while (Date.now() - killedAt < 15_000) {
      const code = await liveStatus(proc.port);
      if (code !== 200) down = true;
      else if (down) {
        servedAfterMs = Date.now() - killedAt;
        break;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    const after = await status();
    const timings = await refillTimings(proc, killedAt - 50);
    reportFigures(
      `[self-healing] kill -9 of both workers: served again after ${servedAfterMs} ms (supervisor waited ${timings.decideMs} ms, ` +
        `worker start ${timings.startupMs} ms); empty slots then: ${JSON.stringify(after.emptySlots)}; policy ${after.policy.state}`,
    );
    expect(down).toBe(true);
    expect(servedAfterMs).not.toBeNull();
    // No backoff, no cooldown for the last slot: the outage is the new worker's start time.
    expect(timings.decideMs).toBeLessThan(100);
    expect(servedAfterMs!).toBeLessThan(timings.startupMs + 1000);
    // The other slot follows after the cooldown the first crash started; meanwhile the API,
    // /health/deep and the console say which slot is empty, why and for how long.
    expect(after.emptySlots).toEqual([expect.objectContaining({ state: 'empty', reason: 'cooldown' })]);
    expect(after.emptySlots[0]!.refillInS).toBeGreaterThan(0);
    expect(after.emptySlots[0]!.refillInS).toBeLessThanOrEqual(30);
    const deadline = Date.now() + 5000;
    let deepSlots: unknown = null;
    while (Date.now() < deadline) {
      const deep = (await (await fetch(`${proc.url}/health/deep`, { signal: AbortSignal.timeout(3000) })).json()) as {
        resilience: { policy: { emptySlots?: { slot: number; reason: string }[] } };
      };
      deepSlots = deep.resilience.policy.emptySlots;
      if (Array.isArray(deepSlots) && deepSlots.length === 1) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(deepSlots).toEqual([expect.objectContaining({ slot: after.emptySlots[0]!.slot, state: 'empty', reason: 'cooldown' })]);
  });
});
