/**
 * Cross-process tests of the cluster supervisor: real `node:cluster` workers, a real listening
 * HTTP port on 127.0.0.1, real signals.
 *
 * How it runs. Vitest's worker cannot be the cluster primary (it is itself a pooled child with
 * its own IPC and global cluster state), and Node cannot run src/cluster/*.ts directly (its type
 * stripping does not map the `.js` import suffixes back to `.ts`). So beforeAll compiles
 * src/cluster with @swc/core into a temp dir (support/compile-cluster.ts, ~50 ms; the folder
 * imports only node builtins and its siblings), then each test forks fixtures/primary.mjs, which
 * runs the compiled Supervisor and forks fixtures/http-worker.mjs as its workers; those use the
 * compiled worker-channel.js and http-drain.js, so the protocol on both sides is the real one.
 * The test drives the primary over IPC (status, rollingRestart) and signals, and the workers over
 * HTTP. Every test ends with SIGTERM and checks the graceful path: exit code 0, no worker left.
 * Fixtures also exit by themselves after 90 s or when their parent goes away.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RolloutResult, SupervisorStatus } from '../../src/cluster/protocol.js';
import { compileCluster, type CompiledCluster } from './support/compile-cluster.js';
import {
  alive,
  freePort,
  percentile,
  PrimaryProcess,
  request,
  sleep,
  startLoad,
  type FixtureSupervisorOptions,
} from './support/primary-process.js';

const BASE: FixtureSupervisorOptions = {
  workers: 2,
  readyTimeoutMs: 5000,
  drainTimeoutMs: 4000,
  watchdogTimeoutMs: 1500,
  lagThresholdMs: 150,
  lagBeats: 3,
  churnWindowS: 60,
  churnMax: 10,
  cooldownS: 0,
  crashBackoffBaseMs: 100,
  crashBackoffMaxMs: 1000,
  heartbeatIntervalMs: 200,
  stuckKillMs: 500,
};

const readyPids = (status: SupervisorStatus): number[] =>
  status.workers.filter((w) => w.state === 'ready' && w.pid !== null).map((w) => w.pid as number);

describe('cluster supervisor (real processes)', () => {
  let compiled: CompiledCluster;
  let scratch: string;
  let controlFile: string;
  let current: PrimaryProcess | null = null;

  beforeAll(async () => {
    compiled = await compileCluster();
    scratch = await mkdtemp(join(tmpdir(), 'rampart-cluster-test-'));
    controlFile = join(scratch, 'control');
  });

  afterEach(async (context) => {
    if (context.task.result?.state === 'fail' && current) {
      console.log(current.logs.slice(-80).map((l) => `${l.level} ${l.msg} ${JSON.stringify(l.obj)}`).join('\n'));
    }
    if (current) await current.stop();
    current = null;
    await writeFile(controlFile, '');
  });

  afterAll(async () => {
    await compiled?.cleanup();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  async function launch(overrides: Partial<FixtureSupervisorOptions> = {}): Promise<PrimaryProcess> {
    await writeFile(controlFile, '');
    const port = await freePort();
    current = new PrimaryProcess({ port, distDir: compiled.dir, controlFile, supervisor: { ...BASE, ...overrides } });
    const status = await current.whenStarted();
    expect(readyPids(status)).toHaveLength(overrides.workers ?? BASE.workers);
    return current;
  }

  /** The graceful SIGTERM path: exit 0 and every worker gone. */
  async function stopGracefully(primary: PrimaryProcess): Promise<void> {
    const { code } = await primary.stop();
    current = null;
    expect(code).toBe(0);
    expect(primary.livingWorkers()).toEqual([]);
    expect(primary.logs.some((l) => l.msg.startsWith('supervisor stopped'))).toBe(true);
  }

  it('(a) rolls every worker under 50 keep-alive connections with zero failed requests on one port', async () => {
    const primary = await launch({ workers: 3 });
    const before = readyPids(await primary.status());

    const load = startLoad(primary.port, 50);
    await sleep(800);
    const rolloutStart = performance.now();
    const result: RolloutResult = await primary.rollingRestart({ reason: 'test: zero-drop rollout', restartId: 'roll-a' });
    const rolloutEnd = performance.now();
    await sleep(600);
    const stats = await load.stop();
    const after = readyPids(await primary.status());

    const phase = (from: number, to: number): number[] =>
      stats.samples.filter(([at]) => at >= from && at < to).map(([, latency]) => latency);
    const beforeLatencies = phase(0, rolloutStart);
    const duringLatencies = phase(rolloutStart, rolloutEnd);
    const report = {
      requests: stats.requests,
      errors: stats.errors.length,
      newConnections: stats.newConnections,
      rolloutMs: Math.round(rolloutEnd - rolloutStart),
      p99BeforeMs: Number(percentile(beforeLatencies, 99).toFixed(1)),
      p99DuringMs: Number(percentile(duringLatencies, 99).toFixed(1)),
      requestsDuring: duringLatencies.length,
      pidsBefore: before,
      pidsAfter: after,
    };
    console.log(`rolling restart under load: ${JSON.stringify(report)}`);

    expect(result).toMatchObject({ status: 'completed', replaced: 3, total: 3, restartId: 'roll-a', code: null });
    expect(stats.errors).toEqual([]);
    expect(stats.requests).toBeGreaterThan(500);
    expect(duringLatencies.length).toBeGreaterThan(100);
    expect([...stats.ports]).toEqual([primary.port]);
    expect(after).toHaveLength(3);
    expect(after.filter((pid) => before.includes(pid))).toEqual([]);
    for (const pid of before) expect(alive(pid)).toBe(false);
    // After the rollout only new workers answer, over fresh connections.
    const lateResponders = new Set(stats.samples.filter(([at]) => at > rolloutEnd + 50).map(([, , pid]) => pid));
    expect([...lateResponders].every((pid) => after.includes(pid))).toBe(true);
    expect(stats.newConnections).toBeGreaterThan(50);
    // Every old worker drained by itself; none needed the SIGKILL bound.
    expect(primary.logs.filter((l) => l.msg.includes('SIGKILL'))).toEqual([]);

    const status = await primary.status();
    expect(status.history).toHaveLength(1);
    expect(status.history[0]).toMatchObject({ kind: 'rolling', restartId: 'roll-a', reason: 'test: zero-drop rollout' });
    expect(status.workers.every((w) => w.restarts === 1 && w.lastHeartbeatAt !== null)).toBe(true);
    await stopGracefully(primary);
  });

  it('(c) a replacement that never becomes ready stops the rollout while every request still succeeds', async () => {
    const primary = await launch({ workers: 2, readyTimeoutMs: 1500 });
    const before = readyPids(await primary.status());
    await writeFile(controlFile, 'never-ready');

    const load = startLoad(primary.port, 50);
    await sleep(300);
    const result = await primary.rollingRestart({ reason: 'test: broken release' });
    await sleep(300);
    const stats = await load.stop();
    const status = await primary.status();
    console.log(`failed rollout under load: ${JSON.stringify({ requests: stats.requests, errors: stats.errors.length, result: result.status, code: result.code })}`);

    expect(result).toMatchObject({ status: 'failed', code: 'READY_TIMEOUT', replaced: 0 });
    expect(stats.errors).toEqual([]);
    expect(stats.requests).toBeGreaterThan(200);
    expect(readyPids(status).sort()).toEqual([...before].sort());
    expect(status.workers).toHaveLength(2);
    expect(status.rollout).toMatchObject({ status: 'failed', code: 'READY_TIMEOUT' });
    // A rollout that never got going does not trigger the watchdog or a crash recovery.
    expect(status.crashesInWindow).toBe(0);
    expect(primary.logs.filter((l) => l.msg.includes('SIGKILL'))).toEqual([]);
    await stopGracefully(primary);
  });

  it('(b) the watchdog replaces a blocked worker within watchdogTimeoutMs + 2 s, a lagging one, and a crashed one', async () => {
    const primary = await launch({ workers: 2 });

    // Missing heartbeat: the event loop is blocked solid.
    const blocked = await request(primary.port, '/block?ms=20000');
    const blockedPid = Number(blocked.body['pid']);
    const blockedAt = Date.now();
    const replaced = await primary.waitFor(
      (s) => !s.workers.some((w) => w.pid === blockedPid) && readyPids(s).length === 2,
      BASE.watchdogTimeoutMs + 2000,
    );
    const elapsed = Date.now() - blockedAt;
    console.log(`blocked worker ${blockedPid} replaced after ${elapsed} ms (bound ${BASE.watchdogTimeoutMs + 2000} ms)`);
    expect(elapsed).toBeLessThanOrEqual(BASE.watchdogTimeoutMs + 2000);
    expect(alive(blockedPid)).toBe(false);
    expect(readyPids(replaced)).not.toContain(blockedPid);
    expect(primary.logs.some((l) => l.level === 'warn' && l.obj['problem'] === 'unresponsive' && l.obj['pid'] === blockedPid)).toBe(true);

    // Lag over the threshold for lagBeats consecutive heartbeats, heartbeats still arriving.
    const sluggish = await request(primary.port, '/sluggish?ms=300');
    const sluggishPid = Number(sluggish.body['pid']);
    await primary.waitFor((s) => !s.workers.some((w) => w.pid === sluggishPid) && readyPids(s).length === 2, 8000);
    expect(primary.logs.some((l) => l.obj['problem'] === 'lagging' && l.obj['pid'] === sluggishPid)).toBe(true);

    // Crash: replaced after the jittered backoff, and counted.
    const crash = await request(primary.port, '/crash');
    const crashedPid = Number(crash.body['pid']);
    const afterCrash = await primary.waitFor(
      (s) => !s.workers.some((w) => w.pid === crashedPid) && readyPids(s).length === 2,
      5000,
    );
    expect(afterCrash.crashesInWindow).toBe(1);
    expect(afterCrash.history.map((h) => h.kind)).toEqual(['watchdog', 'watchdog', 'crash']);
    expect(primary.logs.some((l) => l.level === 'error' && l.msg === 'worker exited unexpectedly' && l.obj['pid'] === crashedPid)).toBe(true);
    await stopGracefully(primary);
  });

  it('(d) crashes past churnMax block the policy (deploys never do); a stuck worker is then left alone until an acknowledged override', async () => {
    const primary = await launch({ workers: 2, churnMax: 2, cooldownS: 1 });

    // Rolling restarts are planned: recorded, never counted.
    for (let i = 1; i <= 3; i += 1) {
      const result = await primary.rollingRestart({ reason: `deploy ${i}` });
      expect(result.status).toBe('completed');
    }
    expect((await primary.status()).policy).toMatchObject({ state: 'allowed', restartsInWindow: 0, plannedInWindow: 3 });

    for (let i = 1; i <= 3; i += 1) {
      const crash = await request(primary.port, '/crash');
      const crashedPid = Number(crash.body['pid']);
      await primary.waitFor((s) => !s.workers.some((w) => w.pid === crashedPid) && readyPids(s).length === 2, 5000);
    }
    const blockedStatus = await primary.status();
    expect(blockedStatus.policy).toMatchObject({ state: 'blocked', exceeded: true, restartsInWindow: 3, plannedInWindow: 3, threshold: 2, windowS: 60 });
    expect(blockedStatus.policy.nextAction).toContain('acknowledgeOverride');
    expect(blockedStatus.policy.cooldownRemainingS).toBeGreaterThan(50);
    expect(blockedStatus.churn).toEqual({ windowS: 60, restarts: 3, threshold: 2, exceeded: true });

    // The admin API path: a worker asks the primary over IPC.
    const workerView = await request(primary.port, '/admin/status');
    expect(workerView.status).toBe(200);
    expect(workerView.body['policy']).toMatchObject({ state: 'blocked' });
    const refused = await request(primary.port, '/admin/restart?reason=without%20ack', { method: 'POST' });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ status: 'rejected', code: 'RESTART_BLOCKED' });

    // While blocked, the watchdog reports a stuck worker but does not restart it.
    const stuck = await request(primary.port, '/block?ms=15000');
    const stuckPid = Number(stuck.body['pid']);
    const complaint = await primary.waitForLog(
      (l) => l.level === 'error' && l.obj['pid'] === stuckPid && l.msg.includes('blocked by the restart churn policy'),
      BASE.watchdogTimeoutMs + 2000,
    );
    expect(String(complaint.obj['operatorAction'])).toContain('acknowledgeOverride');
    await sleep(700);
    const stillThere = await primary.status();
    expect(stillThere.workers.find((w) => w.pid === stuckPid)).toMatchObject({ state: 'ready', watchdog: 'unresponsive' });
    expect(alive(stuckPid)).toBe(true);

    // An acknowledged override goes through and replaces the stuck worker too (killed after stuckKillMs).
    const override = await primary.rollingRestart({ reason: 'operator override', acknowledgeOverride: true, requestedBy: 'test' });
    expect(override).toMatchObject({ status: 'completed', override: true, replaced: 2 });
    expect(alive(stuckPid)).toBe(false);
    const final = await primary.status();
    expect(final.history.map((h) => `${h.kind}${h.override ? ' override' : ''}`)).toEqual([
      'rolling', 'rolling', 'rolling', 'crash', 'crash', 'crash', 'rolling override',
    ]);
    expect(readyPids(final)).toHaveLength(2);
    await stopGracefully(primary);
  });

  it('SIGHUP starts a rolling restart; a second request joins the running rollout', async () => {
    const primary = await launch({ workers: 2 });
    const before = readyPids(await primary.status());
    primary.signal('SIGHUP');
    await primary.waitFor((s) => s.rollout?.status === 'running', 3000, 10);
    const joined = await primary.rollingRestart({ reason: 'second request while running' });
    expect(joined.reason).toBe('SIGHUP');
    const done = await primary.waitFor((s) => s.rollout?.status === 'completed', 10_000);
    expect(done.rollout).toMatchObject({ reason: 'SIGHUP', replaced: 2 });
    expect(readyPids(done).filter((pid) => before.includes(pid))).toEqual([]);
    expect(done.history).toHaveLength(1);
    await stopGracefully(primary);
  });
});
