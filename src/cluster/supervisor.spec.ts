import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PrimaryToWorker, TelemetryView } from './protocol.js';
import { Supervisor, type ClusterPrimary, type SupervisorOptions, type WorkerHandle } from './supervisor.js';

/**
 * Unit tests with a fake cluster and fake timers: every fork, message and exit is scripted, so
 * ordering (replacement ready before the old one drains), bounds and policy decisions can be
 * checked exactly. test/cluster/supervisor.test.ts covers the same paths with real processes.
 */

interface Behaviour {
  /** ms until the worker reports ready; null = never. */
  readyAfterMs: number | null;
  /** ms from the shutdown message to exit; null = ignores it (stuck). */
  drainMs: number | null;
  /** Exit (crash) this many ms after start instead of becoming ready. */
  crashAfterMs?: number;
}

let nextId = 1;
let nextPid = 1000;

class FakeWorker extends EventEmitter implements WorkerHandle {
  readonly id = nextId++;
  readonly process: { pid: number; kill: (signal?: NodeJS.Signals | number) => boolean };
  readonly sent: PrimaryToWorker[] = [];
  readonly signals: Array<NodeJS.Signals | number | undefined> = [];
  readonly env: Record<string, string>;
  connected = true;
  exited = false;
  /** Heartbeats stop while stuck. */
  stuck = false;
  lagMs = 1;
  /** Reported in heartbeats when set (recycling). */
  rssBytes: number | undefined;
  requests: number | undefined;
  private beat: NodeJS.Timeout | null = null;

  constructor(env: Record<string, string>, behaviour: Behaviour) {
    super();
    this.env = env;
    const pid = nextPid++;
    this.process = {
      pid,
      kill: (signal) => {
        this.signals.push(signal);
        setTimeout(() => this.exit(null, typeof signal === 'string' ? signal : 'SIGKILL'), 1);
        return true;
      },
    };
    if (behaviour.crashAfterMs !== undefined) setTimeout(() => this.exit(1, null), behaviour.crashAfterMs);
    else if (behaviour.readyAfterMs !== null) setTimeout(() => this.ready(), behaviour.readyAfterMs);
    this.drainMs = behaviour.drainMs;
  }

  private readonly drainMs: number | null;

  get pid(): number {
    return this.process.pid;
  }

  send(message: PrimaryToWorker): boolean {
    this.sent.push(message);
    if (message.type === 'shutdown' && this.drainMs !== null && !this.stuck) setTimeout(() => this.exit(0, null), this.drainMs);
    return true;
  }

  disconnect(): void {
    this.connected = false;
  }

  isConnected(): boolean {
    return this.connected && !this.exited;
  }

  ready(): void {
    if (this.exited) return;
    this.emit('message', { type: 'ready' });
    this.beat = setInterval(() => {
      if (this.stuck || this.exited) return;
      const usage = { ...(this.rssBytes === undefined ? {} : { rssBytes: this.rssBytes }), ...(this.requests === undefined ? {} : { requests: this.requests }) };
      this.emit('message', { type: 'heartbeat', lagMs: this.lagMs, at: Date.now(), ...usage });
    }, 100);
  }

  exit(code: number | null, signal: string | null): void {
    if (this.exited) return;
    this.exited = true;
    this.connected = false;
    if (this.beat) clearInterval(this.beat);
    this.emit('exit', code, signal);
  }

  gotShutdown(): boolean {
    return this.sent.some((m) => m.type === 'shutdown');
  }
}

class FakeCluster implements ClusterPrimary {
  readonly workers: FakeWorker[] = [];
  readonly setups: Array<{ exec: string; args: string[]; silent: boolean }> = [];
  /** Behaviour of the next forks, consumed in order; then `fallback`. */
  readonly queue: Behaviour[] = [];
  fallback: Behaviour = { readyAfterMs: 10, drainMs: 20 };
  readonly events: string[] = [];
  /** RSS every new worker reports (recycling tests). */
  rssBytes: number | undefined;

  setupPrimary(settings: { exec: string; args: string[]; silent: boolean }): void {
    this.setups.push(settings);
  }

  fork(env: Record<string, string>): FakeWorker {
    const worker = new FakeWorker(env, this.queue.shift() ?? this.fallback);
    worker.rssBytes = this.rssBytes;
    this.workers.push(worker);
    this.events.push(`fork ${worker.pid}`);
    worker.on('message', (m: { type: string }) => {
      if (m.type === 'ready') this.events.push(`ready ${worker.pid}`);
    });
    worker.on('exit', () => this.events.push(`exit ${worker.pid}`));
    const send = worker.send.bind(worker);
    worker.send = (message) => {
      if (message.type === 'shutdown') this.events.push(`shutdown ${worker.pid}`);
      return send(message);
    };
    return worker;
  }

  alive(): FakeWorker[] {
    return this.workers.filter((w) => !w.exited);
  }
}

interface LogEntry {
  level: 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string;
}

function setup(overrides: Partial<SupervisorOptions> = {}): { supervisor: Supervisor; fake: FakeCluster; logs: LogEntry[] } {
  const fake = new FakeCluster();
  const logs: LogEntry[] = [];
  const logger = {
    info: (obj: Record<string, unknown>, msg: string) => logs.push({ level: 'info', obj, msg }),
    warn: (obj: Record<string, unknown>, msg: string) => logs.push({ level: 'warn', obj, msg }),
    error: (obj: Record<string, unknown>, msg: string) => logs.push({ level: 'error', obj, msg }),
  };
  const supervisor = new Supervisor({
    workers: 2,
    exec: '/app/worker.js',
    args: ['--flag'],
    env: { PORT: '3000' },
    readyTimeoutMs: 1000,
    drainTimeoutMs: 2000,
    watchdogTimeoutMs: 500,
    lagThresholdMs: 100,
    lagBeats: 3,
    churnWindowS: 60,
    churnMax: 3,
    cooldownS: 0,
    crashBackoffBaseMs: 100,
    crashBackoffMaxMs: 1000,
    heartbeatIntervalMs: 100,
    stuckKillMs: 200,
    watchdogIntervalMs: 50,
    handleSignals: false,
    random: () => 0.5,
    logger,
    cluster: fake,
    ...overrides,
  });
  return { supervisor, fake, logs };
}

const advance = (ms: number): Promise<void> => vi.advanceTimersByTimeAsync(ms).then(() => undefined);

async function started(overrides: Partial<SupervisorOptions> = {}): Promise<ReturnType<typeof setup>> {
  const context = setup(overrides);
  const start = context.supervisor.start();
  await advance(20);
  await expect(start).resolves.toEqual({ ready: overrides.workers ?? 2, failed: 0 });
  return context;
}

/** Crashes the worker in a slot and waits for its replacement: one counted (crash) restart each. */
async function crashAndRecover(fake: FakeCluster, times: number): Promise<void> {
  for (let i = 0; i < times; i += 1) {
    fake.alive()[0]!.exit(1, null);
    await advance(2000);
  }
}

describe('Supervisor', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2025-01-01T12:00:00Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('forks the configured workers with exec, args and the protocol environment', async () => {
    const { supervisor, fake } = await started();
    expect(fake.setups).toEqual([{ exec: '/app/worker.js', args: ['--flag'], silent: false }]);
    expect(fake.workers).toHaveLength(2);
    expect(fake.workers[1]!.env).toEqual({
      PORT: '3000',
      RAMPART_CLUSTER_SLOT: '1',
      RAMPART_CLUSTER_HEARTBEAT_MS: '100',
      RAMPART_CLUSTER_DRAIN_TIMEOUT_MS: '2000',
    });
    const status = supervisor.status();
    expect(status.workers.map((w) => [w.slot, w.state, w.restarts])).toEqual([
      [0, 'ready', 0],
      [1, 'ready', 0],
    ]);
    expect(status.policy.state).toBe('allowed');
  });

  describe('rolling restart', () => {
    it('replaces one worker at a time, draining the old one only after its replacement is ready', async () => {
      const { supervisor, fake } = await started();
      const [a, b] = fake.workers;
      fake.events.length = 0;
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, fake.alive().length)), 1);

      const done = supervisor.rollingRestart({ reason: 'deploy', restartId: 'r-1' });
      await advance(200);
      clearInterval(sampler);
      const result = await done;

      expect(result).toMatchObject({ restartId: 'r-1', status: 'completed', replaced: 2, total: 2, code: null, override: false });
      const [c, d] = fake.workers.slice(2);
      expect(fake.events).toEqual([
        `fork ${c!.pid}`,
        `ready ${c!.pid}`,
        `shutdown ${a!.pid}`,
        `exit ${a!.pid}`,
        `fork ${d!.pid}`,
        `ready ${d!.pid}`,
        `shutdown ${b!.pid}`,
        `exit ${b!.pid}`,
      ]);
      expect(peak).toBe(3);
      expect(a!.connected).toBe(false); // disconnect() followed the shutdown message
      expect(a!.sent[0]).toEqual({ type: 'shutdown', reason: 'rolling restart r-1', deadlineMs: 2000 });
      const status = supervisor.status();
      expect(status.workers.map((w) => [w.pid, w.restarts])).toEqual([
        [c!.pid, 1],
        [d!.pid, 1],
      ]);
      expect(status.history).toEqual([expect.objectContaining({ kind: 'rolling', reason: 'deploy', restartId: 'r-1' })]);
      expect(status.rollout).toMatchObject({ status: 'completed', restartId: 'r-1' });
    });

    it('stops and keeps the old workers when a replacement never becomes ready', async () => {
      const { supervisor, fake, logs } = await started();
      const [a, b] = fake.workers;
      fake.queue.push({ readyAfterMs: null, drainMs: 20 });

      const done = supervisor.rollingRestart({ reason: 'broken build' });
      await advance(999);
      expect(a!.gotShutdown()).toBe(false);
      await advance(100);
      const result = await done;

      expect(result).toMatchObject({ status: 'failed', code: 'READY_TIMEOUT', replaced: 0 });
      const replacement = fake.workers[2]!;
      expect(replacement.gotShutdown()).toBe(true); // retired gracefully: it may have taken connections
      expect(replacement.exited).toBe(true);
      expect(a!.gotShutdown() || b!.gotShutdown()).toBe(false);
      expect(fake.workers).toHaveLength(3); // no further replacement attempted
      expect(supervisor.status().workers.map((w) => w.pid)).toEqual([a!.pid, b!.pid]);
      expect(logs.some((l) => l.level === 'error' && l.msg.startsWith('rolling restart stopped'))).toBe(true);
    });

    it('stops when the replacement exits before becoming ready', async () => {
      const { supervisor, fake } = await started();
      fake.queue.push({ readyAfterMs: null, drainMs: 20, crashAfterMs: 30 });
      const done = supervisor.rollingRestart({ reason: 'crashing build' });
      await advance(100);
      await expect(done).resolves.toMatchObject({ status: 'failed', code: 'WORKER_EXITED', replaced: 0 });
      expect(fake.alive()).toHaveLength(2);
    });

    it('SIGKILLs an old worker that does not finish draining within drainTimeoutMs', async () => {
      const { supervisor, fake } = await started({ workers: 1 });
      const old = fake.workers[0]!;
      old.stuck = false;
      // Ignores the shutdown request but keeps heartbeating (a slow drain, not a stuck loop).
      old.send = (message) => {
        old.sent.push(message);
        return true;
      };
      const done = supervisor.rollingRestart({ reason: 'deploy' });
      // Replacement ready at 10 ms, then the 2000 ms drain bound.
      await advance(1990);
      expect(old.signals).toEqual([]);
      await advance(30);
      expect(old.signals).toEqual(['SIGKILL']);
      await expect(done).resolves.toMatchObject({ status: 'completed', replaced: 1 });
    });

    it('runs one rollout at a time: a second request joins the running one', async () => {
      const { supervisor } = await started();
      const first = supervisor.beginRollingRestart({ reason: 'one', restartId: 'first' });
      const second = supervisor.beginRollingRestart({ reason: 'two', restartId: 'second' });
      expect(first.result).toMatchObject({ status: 'running', restartId: 'first', alreadyRunning: false });
      expect(second.result).toMatchObject({ status: 'running', restartId: 'first', alreadyRunning: true });
      expect(second.done).toBe(first.done);
      await advance(200);
      expect(supervisor.status().history).toHaveLength(1);
    });

    it('refuses without a reason, and while blocked without acknowledgeOverride', async () => {
      const { supervisor, fake } = await started({ churnMax: 1 });
      await expect(supervisor.rollingRestart({ reason: '  ' })).resolves.toMatchObject({ status: 'rejected', code: 'INVALID_REQUEST' });

      await crashAndRecover(fake, 2);
      expect(supervisor.status().policy.state).toBe('blocked');

      const refused = await supervisor.rollingRestart({ reason: 'three' });
      expect(refused).toMatchObject({ status: 'rejected', code: 'RESTART_BLOCKED', total: 0 });
      expect(refused.message).toContain('acknowledgeOverride');
      expect(supervisor.status().history).toHaveLength(2);

      const override = supervisor.rollingRestart({ reason: 'incident 42', acknowledgeOverride: true });
      await advance(200);
      await expect(override).resolves.toMatchObject({ status: 'completed', override: true });
      expect(supervisor.status().history.at(-1)).toMatchObject({ reason: 'incident 42', override: true, planned: true });
    });

    it('records rolling restarts as planned: any number of deploys never blocks or cools down self-healing', async () => {
      const { supervisor, fake } = await started({ churnMax: 3, cooldownS: 30 });
      for (let i = 0; i < 6; i += 1) {
        const done = supervisor.rollingRestart({ reason: `deploy ${i}` });
        await advance(200);
        await expect(done).resolves.toMatchObject({ status: 'completed' });
      }
      const status = supervisor.status();
      expect(status.policy).toMatchObject({ state: 'allowed', restartsInWindow: 0, plannedInWindow: 6, cooldownRemainingS: 0 });
      expect(status.history).toHaveLength(6);
      expect(status.history.every((h) => h.kind === 'rolling' && h.planned)).toBe(true);

      // A crash right after the deploys is replaced after the plain backoff (50 ms), no cooldown.
      const forks = fake.workers.length;
      fake.alive()[0]!.exit(1, null);
      await advance(60);
      expect(fake.workers).toHaveLength(forks + 1);
      await advance(20);
      expect(supervisor.status().history.at(-1)).toMatchObject({ kind: 'crash', planned: false });
      expect(supervisor.status().policy).toMatchObject({ state: 'cooling_down', restartsInWindow: 1 });
    });
  });

  describe('recycling', () => {
    const MB = 1024 * 1024;

    it('replaces workers over maxRssBytes one at a time through the rollout path, as planned restarts', async () => {
      const { supervisor, fake } = await started({ maxRssBytes: 100 * MB, recycleMinUptimeMs: 500 });
      // Replacements slower than several watchdog ticks, so a second recycle would have room to start.
      fake.fallback = { readyAfterMs: 300, drainMs: 200 };
      const [a, b] = fake.workers;
      a!.rssBytes = 300 * MB;
      b!.rssBytes = 300 * MB;
      fake.events.length = 0;
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, fake.alive().length)), 1);
      await advance(400);
      expect(fake.workers).toHaveLength(2); // younger than recycleMinUptimeMs
      await advance(1500);
      clearInterval(sampler);
      const [c, d] = fake.workers.slice(2);
      expect(fake.workers).toHaveLength(4);
      // The second slot waits until the first is fully replaced: never two at once.
      expect(fake.events).toEqual([
        `fork ${c!.pid}`,
        `ready ${c!.pid}`,
        `shutdown ${a!.pid}`,
        `exit ${a!.pid}`,
        `fork ${d!.pid}`,
        `ready ${d!.pid}`,
        `shutdown ${b!.pid}`,
        `exit ${b!.pid}`,
      ]);
      expect(peak).toBe(3);
      expect(a!.sent[0]).toMatchObject({ type: 'shutdown', deadlineMs: 2000 });
      expect(a!.sent[0]).not.toHaveProperty('drainDelayMs');
      const status = supervisor.status();
      expect(status.history.map((h) => [h.kind, h.planned, h.slot])).toEqual([
        ['recycle', true, 0],
        ['recycle', true, 1],
      ]);
      expect(status.history[0]!.reason).toMatch(/^recycle: rss 300 MB over WORKER_MAX_RSS_MB 100$/);
      expect(status.policy).toMatchObject({ state: 'allowed', restartsInWindow: 0, plannedInWindow: 2 });
      expect(status.workers.map((w) => [w.pid, w.restarts])).toEqual([
        [c!.pid, 1],
        [d!.pid, 1],
      ]);
    });

    it('takes several heartbeats in a row over the limit, not one spike', async () => {
      const { fake } = await started({ maxRssBytes: 100 * MB, recycleMinUptimeMs: 100 });
      const a = fake.workers[0]!;
      await advance(500);
      a.rssBytes = 300 * MB;
      await advance(150); // one or two beats over
      a.rssBytes = 50 * MB;
      await advance(2000);
      expect(fake.workers).toHaveLength(2);
      a.rssBytes = 300 * MB;
      await advance(500);
      expect(fake.workers).toHaveLength(3);
    });

    it('does nothing when off or under the limit', async () => {
      const { fake } = await started({ maxRssBytes: 0, recycleMinUptimeMs: 100 });
      fake.workers[0]!.rssBytes = 10_000 * MB;
      await advance(2000);
      expect(fake.workers).toHaveLength(2);
    });

    it('jitters each worker\'s request limit and recycles the one that reached its own', async () => {
      const randoms = [0, 1];
      const { supervisor, fake } = await started({ maxRequests: 1000, recycleMinUptimeMs: 100, random: () => randoms.shift() ?? 0.5 });
      const [a, b] = fake.workers;
      expect(supervisor.status().workers.map((w) => w.requestLimit)).toEqual([900, 1100]);
      a!.requests = 950;
      b!.requests = 1050;
      await advance(1000);
      expect(a!.exited).toBe(true);
      expect(b!.exited).toBe(false);
      const status = supervisor.status();
      expect(status.history.map((h) => h.kind)).toEqual(['recycle']);
      expect(status.history[0]!.reason).toContain('950 requests reached this worker\'s limit 900');
      expect(status.workers.find((w) => w.slot === 1)).toMatchObject({ requests: 1050, requestLimit: 1100 });
    });

    it('never starts while a rollout runs, and a rollout waits for a running recycle', async () => {
      const { supervisor, fake } = await started({ maxRssBytes: 100 * MB, recycleMinUptimeMs: 100 });
      fake.fallback = { readyAfterMs: 300, drainMs: 20 };
      fake.workers[0]!.rssBytes = 300 * MB;
      await advance(350); // three beats over: the recycle of slot 0 is under way (its replacement starting)
      expect(fake.workers).toHaveLength(3);
      const done = supervisor.rollingRestart({ reason: 'deploy' });
      fake.workers[1]!.rssBytes = 300 * MB; // would be recycled, but the rollout comes first
      fake.events.length = 0;
      await advance(2000);
      const result = await done;
      expect(result).toMatchObject({ status: 'completed', replaced: 2, skipped: 0 });
      // Fresh workers report no RSS: nothing else to recycle afterwards.
      expect(supervisor.status().history.map((h) => h.kind)).toEqual(['recycle', 'rolling']);
      // The rollout's first fork came only after the recycle had finished (its old worker exited).
      expect(fake.events.findIndex((e) => e.startsWith('exit'))).toBeLessThan(fake.events.findIndex((e) => e.startsWith('fork')));
    });
  });

  describe('watchdog', () => {
    it('replaces a worker whose heartbeat stops, SIGKILLing it after stuckKillMs', async () => {
      const { supervisor, fake, logs } = await started();
      const stuck = fake.workers[0]!;
      stuck.stuck = true;
      await advance(500);
      expect(fake.workers).toHaveLength(2);
      await advance(150); // past watchdogTimeoutMs (from the last beat) plus a tick
      expect(fake.workers).toHaveLength(3);
      expect(logs.some((l) => l.obj['problem'] === 'unresponsive' && l.obj['pid'] === stuck.pid)).toBe(true);
      await advance(20); // replacement ready -> the stuck one is told, then killed at stuckKillMs
      expect(stuck.gotShutdown()).toBe(true);
      expect(stuck.signals).toEqual([]);
      await advance(200);
      expect(stuck.signals).toEqual(['SIGKILL']);
      expect(stuck.exited).toBe(true);
      expect(supervisor.status().history.map((h) => h.kind)).toEqual(['watchdog']);
      expect(supervisor.status().workers.every((w) => w.state === 'ready')).toBe(true);
    });

    it('replaces a worker whose lag stays over the threshold for lagBeats consecutive beats', async () => {
      const { fake } = await started();
      const slow = fake.workers[0]!;
      slow.lagMs = 150;
      await advance(250); // two beats over
      slow.lagMs = 10;
      await advance(100); // one beat under: the count restarts
      slow.lagMs = 150;
      await advance(250);
      expect(fake.workers).toHaveLength(2);
      await advance(120); // third consecutive beat over
      expect(fake.workers).toHaveLength(3);
      await advance(100);
      expect(slow.gotShutdown()).toBe(true);
      expect(slow.exited).toBe(true);
      expect(slow.signals).toEqual([]); // a lagging loop still drains on its own
    });

    it('defers while cooling down, then restarts', async () => {
      const { fake, logs } = await started({ cooldownS: 2 });
      fake.workers[0]!.stuck = true;
      await advance(700);
      expect(fake.workers).toHaveLength(3); // first one allowed
      await advance(300);
      fake.workers[1]!.stuck = true;
      await advance(700);
      expect(fake.workers).toHaveLength(3);
      expect(logs.some((l) => l.level === 'warn' && l.msg.includes('waits') && l.msg.includes('cooldown'))).toBe(true);
      await advance(1100);
      expect(fake.workers).toHaveLength(4);
    });

    it('leaves a stuck worker alone while blocked, logging the operator action once, at most blockedMaxWaitMs', async () => {
      const { supervisor, fake, logs } = await started({ churnMax: 1, blockedMaxWaitMs: 5000 });
      await crashAndRecover(fake, 2);
      expect(supervisor.status().policy.state).toBe('blocked');
      const stuck = fake.alive()[0]!;
      stuck.stuck = true;
      const forks = fake.workers.length;
      await advance(2000);
      expect(fake.workers).toHaveLength(forks);
      const complaints = logs.filter((l) => l.level === 'error' && l.obj['pid'] === stuck.pid);
      expect(complaints).toHaveLength(1);
      expect(complaints[0]!.msg).toContain('blocked by the restart churn policy');
      expect(String(complaints[0]!.obj['operatorAction'])).toContain('acknowledgeOverride');
      expect(supervisor.status().workers.find((w) => w.pid === stuck.pid)).toMatchObject({ watchdog: 'unresponsive' });
      // Held since the watchdog first found it (~550 ms in); replaced once the bound has passed.
      await advance(2500);
      expect(fake.workers).toHaveLength(forks);
      await advance(1200);
      expect(fake.workers).toHaveLength(forks + 1);
      expect(logs.some((l) => l.msg.includes('for the longest blocked wait'))).toBe(true);
    });

    it('replaces a stuck worker at once, even while blocked, when no other worker serves', async () => {
      const { fake, logs } = await started({ churnMax: 1, blockedMaxWaitMs: 60_000 });
      await crashAndRecover(fake, 2);
      const [a, b] = fake.alive();
      a!.stuck = true;
      b!.stuck = true;
      const forks = fake.workers.length;
      await advance(700);
      expect(fake.workers.length).toBeGreaterThan(forks);
      expect(logs.some((l) => l.msg.includes('no other worker serves: replacing it despite the restart policy'))).toBe(true);
    });
  });

  describe('crash recovery', () => {
    it('replaces a crashed worker after the full-jitter backoff, growing with crashes in the window', async () => {
      const { supervisor, fake, logs } = await started();
      fake.workers[0]!.exit(1, null);
      // attempt 0: ceiling 100 ms, random 0.5 -> 50 ms
      await advance(49);
      expect(fake.workers).toHaveLength(2);
      await advance(2);
      expect(fake.workers).toHaveLength(3);
      expect(logs.some((l) => l.level === 'error' && l.msg === 'worker exited unexpectedly')).toBe(true);
      await advance(20);

      // Thirty seconds of healthy uptime later it crashes again: still the same window.
      await advance(30_000);
      fake.workers[2]!.exit(1, null);
      await advance(99); // attempt 1: ceiling 200 -> 100 ms
      expect(fake.workers).toHaveLength(3);
      await advance(2);
      expect(fake.workers).toHaveLength(4);
      await advance(20);
      const status = supervisor.status();
      expect(status.crashesInWindow).toBe(2);
      expect(status.workers.find((w) => w.slot === 0)).toMatchObject({ state: 'ready', restarts: 2 });
      expect(status.history.map((h) => h.kind)).toEqual(['crash', 'crash']);
    });

    it('while blocked keeps a crashed slot empty at most blockedMaxWaitMs, and shows why', async () => {
      const { supervisor, fake, logs } = await started({ churnMax: 1, blockedMaxWaitMs: 10_000 });
      await crashAndRecover(fake, 2);
      expect(supervisor.status().policy.state).toBe('blocked');
      const [first, second] = fake.alive();
      first!.exit(1, null);
      await advance(2000);
      expect(fake.alive()).toEqual([second]);
      expect(logs.some((l) => l.level === 'error' && l.msg.includes('stays empty for up to 10 s'))).toBe(true);
      expect(supervisor.status().workers.find((w) => w.pid === first!.pid)).toMatchObject({ state: 'stopped' });
      expect(supervisor.status().emptySlots).toEqual([
        { slot: first!.env['RAMPART_CLUSTER_SLOT'] === '0' ? 0 : 1, state: 'empty', reason: 'blocked', refillInS: 8, since: expect.any(String) },
      ]);
      await advance(7990);
      expect(fake.alive()).toHaveLength(1);
      await advance(30);
      expect(fake.alive()).toHaveLength(2);
      expect(supervisor.status().emptySlots).toEqual([]);
    });

    it('refills the last serving slot at once whatever the policy, cooldown or backoff', async () => {
      const { supervisor, fake, logs } = await started({ churnMax: 1, blockedMaxWaitMs: 60_000 });
      await crashAndRecover(fake, 2);
      expect(supervisor.status().policy.state).toBe('blocked');
      const [first, second] = fake.alive();
      first!.exit(1, null);
      await advance(100);
      expect(supervisor.status().emptySlots).toHaveLength(1);
      const forks = fake.workers.length;
      second!.exit(1, null);
      // No timer at all: forked in the same tick as the exit.
      expect(fake.workers).toHaveLength(forks + 1);
      expect(logs.some((l) => l.msg.includes('refilling the slot at once despite the restart policy'))).toBe(true);
      await advance(20);
      expect(supervisor.status().workers.filter((w) => w.state === 'ready')).toHaveLength(1);
    });

    it('when every worker crashes together, one is back at once and the rest follow the backoff', async () => {
      const { supervisor, fake } = await started({ workers: 3, crashBackoffBaseMs: 4000, crashBackoffMaxMs: 30_000 });
      const forks = fake.workers.length;
      for (const worker of fake.alive()) worker.exit(1, null);
      expect(fake.workers).toHaveLength(forks + 1);
      await advance(15);
      expect(supervisor.status().workers.filter((w) => w.state === 'ready')).toHaveLength(1);
      expect(supervisor.status().emptySlots.map((e) => e.reason)).toEqual(['backoff', 'backoff']);
      await advance(20_000);
      expect(fake.alive()).toHaveLength(3);
    });

    it('retries the last slot after a capped backoff when its start failed, not in a hot loop', async () => {
      const { fake } = await started({ workers: 1, crashBackoffBaseMs: 10_000, crashBackoffMaxMs: 30_000 });
      fake.queue.push({ readyAfterMs: null, drainMs: 5, crashAfterMs: 5 }, { readyAfterMs: null, drainMs: 5, crashAfterMs: 5 });
      fake.alive()[0]!.exit(1, null);
      expect(fake.workers).toHaveLength(2); // at once
      await advance(10); // that start failed: next attempt within EMPTY_RETRY_MAX_MS (2 s), not 10 s+
      expect(fake.workers).toHaveLength(2);
      await advance(2000);
      expect(fake.workers).toHaveLength(3);
    });

    it('keeps retrying a start that never becomes ready, with backoff', async () => {
      const { supervisor, fake } = setup({ workers: 1 });
      fake.queue.push({ readyAfterMs: null, drainMs: 5 }, { readyAfterMs: null, drainMs: 5 });
      const start = supervisor.start();
      await advance(1010);
      await expect(start).resolves.toEqual({ ready: 0, failed: 1 });
      expect(supervisor.status().crashesInWindow).toBe(1);
      await advance(1100); // second attempt also times out
      expect(supervisor.status().crashesInWindow).toBe(2);
      await advance(300);
      expect(fake.workers).toHaveLength(3);
      await advance(20);
      expect(supervisor.status().workers).toEqual([expect.objectContaining({ state: 'ready', restarts: 1 })]);
    });
  });

  describe('IPC requests from workers', () => {
    it('answers status and rollingRestart with the correlation id', async () => {
      const { fake } = await started();
      const asker = fake.workers[1]!;
      asker.emit('message', { type: 'request', id: '7:1', op: 'status' });
      const statusReply = asker.sent.find((m) => m.type === 'response' && m.id === '7:1');
      expect(statusReply).toMatchObject({ ok: true, result: { mode: 'cluster', desiredWorkers: 2 } });

      asker.emit('message', { type: 'request', id: '7:2', op: 'rollingRestart', payload: { reason: 'from admin', restartId: 'adm-1' } });
      const restartReply = asker.sent.find((m) => m.type === 'response' && m.id === '7:2');
      // Answered at once with `running`: the asking worker is itself replaced by the rollout.
      expect(restartReply).toMatchObject({ ok: true, result: { status: 'running', restartId: 'adm-1' } });
      await advance(200);
    });

    it('telemetry: keeps each worker\'s buckets (the resent last one replaced) and lines, also after the worker crashed, and the primary\'s own lines', async () => {
      const primaryLine = { seq: 1, at: '2025-01-01T12:00:00.000Z', level: 'error' as const, msg: 'worker exited unexpectedly', correlationId: null, errorCode: null, route: null, status: null };
      const { fake, supervisor } = await started({ recentLogs: () => [primaryLine] });
      const [a, b] = fake.workers;
      const base = Math.floor(Date.now() / 10_000) * 10_000 - 10_000;
      const bucket = (offset: number, requests: number) => ({ t: base + offset, requests, errors: { DB_QUERY_TIMEOUT: 1 }, latency: [1], poolSaturation: 0.5, poolWaiting: 2, breaker: 2, shed: 0, rssBytes: 1e8, heapUsedBytes: 5e7 });
      const line = (seq: number) => ({ seq, at: '2025-01-01T12:00:01.000Z', level: 'error', msg: 'GET /api/lots 504', correlationId: `c-${seq}`, errorCode: 'DB_QUERY_TIMEOUT', route: '/api/lots', status: 504 });
      // An hour-old bucket is kept by the primary but is outside a 15-minute request.
      a!.emit('message', { type: 'heartbeat', lagMs: 1, at: 0, heapUsedBytes: 5e7, telemetry: { buckets: [bucket(-3_600_000, 9), bucket(0, 1), bucket(10_000, 2)], logs: [line(1)] } });
      // The next beat resends the bucket being filled (now with more requests) and one new line.
      a!.emit('message', { type: 'heartbeat', lagMs: 1, at: 0, telemetry: { buckets: [bucket(10_000, 5)], logs: [line(1), line(2)] } });
      b!.emit('message', { type: 'heartbeat', lagMs: 1, at: 0, telemetry: { buckets: [bucket(10_000, 7)], logs: [] } });
      a!.exit(1, null);
      b!.emit('message', { type: 'request', id: '8:1', op: 'telemetry', payload: { minutes: 15 } });
      const reply = b!.sent.find((m) => m.type === 'response' && m.id === '8:1') as { ok: true; result: TelemetryView } | undefined;
      expect(reply?.ok).toBe(true);
      const view = reply!.result;
      const ofA = view.workers.find((w) => w.pid === a!.pid)!;
      expect(ofA.alive).toBe(false);
      expect(ofA.buckets.map((x) => [x.t - base, x.requests])).toEqual([
        [0, 1],
        [10_000, 5],
      ]);
      expect(ofA.logs.map((l) => l.correlationId)).toEqual(['c-1', 'c-2']);
      expect(view.workers.find((w) => w.pid === b!.pid)?.buckets.map((x) => x.requests)).toEqual([7]);
      expect(view.primaryLogs).toEqual([primaryLine]);
      // The crashed slot's row says how it ended.
      const row = supervisor.status().workers.find((w) => w.pid === a!.pid);
      expect(row?.lastExit).toMatchObject({ code: 1, signal: null, unexpected: true });
      await advance(300);
      // Its replacement's row keeps showing how the predecessor ended.
      expect(supervisor.status().workers.find((w) => w.slot === row!.slot && w.state === 'ready')?.lastExit).toMatchObject({ code: 1, unexpected: true });
    });

    it('setLogLevel: tells every worker, then each new one on ready, and every one again when the time is up', async () => {
      const levels: Array<string | null> = [];
      const { fake } = await started({ onLogLevel: (level) => levels.push(level) });
      const [a, b] = fake.workers;
      a!.emit('message', { type: 'request', id: '9:1', op: 'setLogLevel', payload: { level: 'debug', durationMs: 60_000, reason: 'incident', requestedBy: 'admin' } });
      const reply = a!.sent.find((m) => m.type === 'response' && m.id === '9:1');
      expect(reply).toMatchObject({ ok: true, result: { level: 'debug', revertsAt: '2025-01-01T12:01:00.020Z', reason: 'incident', setBy: 'admin' } });
      for (const w of [a!, b!]) expect(w.sent).toContainEqual({ type: 'logLevel', level: 'debug', remainingMs: 60_000, revertsAt: '2025-01-01T12:01:00.020Z', reason: 'incident', setBy: 'admin' });
      // The broadcast reaches the asker before its answer.
      expect(a!.sent.findIndex((m) => m.type === 'logLevel')).toBeLessThan(a!.sent.findIndex((m) => m.type === 'response'));
      expect(levels).toEqual(['debug']);
      // A worker that becomes ready 20 s later gets what is left.
      await advance(20_000);
      b!.exit(1, null);
      await advance(1000);
      const c = fake.workers[2]!;
      expect(c.sent.find((m) => m.type === 'logLevel')).toMatchObject({ level: 'debug', remainingMs: expect.any(Number) });
      const remaining = (c.sent.find((m) => m.type === 'logLevel') as { remainingMs: number }).remainingMs;
      expect(remaining).toBeGreaterThan(38_000);
      expect(remaining).toBeLessThan(40_000);
      await advance(40_000);
      for (const w of [a!, c]) expect(w.sent).toContainEqual({ type: 'logLevel', level: null, remainingMs: 0, revertsAt: '', reason: 'incident', setBy: 'admin' });
      expect(levels).toEqual(['debug', null]);
    });

    it('setLogLevel: refuses a level or duration out of bounds', async () => {
      const { fake } = await started();
      const a = fake.workers[0]!;
      a.emit('message', { type: 'request', id: '9:2', op: 'setLogLevel', payload: { level: 'silent', durationMs: 60_000, reason: 'r', requestedBy: 'x' } });
      a.emit('message', { type: 'request', id: '9:3', op: 'setLogLevel', payload: { level: 'debug', durationMs: 1441 * 60_000, reason: 'r', requestedBy: 'x' } });
      expect(a.sent.filter((m) => m.type === 'response' || m.type === 'logLevel')).toEqual([]);
    });

    it('takes a worker that announces its own stop signal as a planned exit and refills its slot at once', async () => {
      const { supervisor, fake, logs } = await started();
      const [a] = fake.workers;
      a!.emit('message', { type: 'stopping', signal: 'SIGTERM' });
      a!.exit(0, null);
      expect(fake.workers).toHaveLength(3);
      await advance(20);
      expect(logs.some((l) => l.msg === 'worker exited unexpectedly')).toBe(false);
      expect(supervisor.status().crashesInWindow).toBe(0);
      expect(supervisor.status().history).toEqual([]);
      expect(supervisor.status().workers.filter((w) => w.state === 'ready')).toHaveLength(2);
    });

    it('ignores malformed messages', async () => {
      const { supervisor, fake } = await started();
      const worker = fake.workers[0]!;
      worker.emit('message', 'ready');
      worker.emit('message', { type: 'heartbeat', lagMs: -5 });
      worker.emit('message', { type: 'request', id: 'x', op: 'exec' });
      expect(worker.sent).toEqual([]);
      expect(supervisor.status().workers).toHaveLength(2);
    });
  });

  describe('stop', () => {
    it('drains every worker, SIGKILLs the ones that overrun, and refuses rollouts afterwards', async () => {
      const { supervisor, fake } = await started();
      const [a, b] = fake.workers;
      b!.send = (message) => {
        b!.sent.push(message);
        return true;
      };
      let report: unknown = null;
      void supervisor.stop().then((r) => (report = r));
      await advance(30);
      expect(a!.exited).toBe(true);
      expect(b!.exited).toBe(false);
      // Bound: drain delay (0) + drainTimeoutMs (2000) + teardown margin (3000).
      await advance(4960);
      expect(b!.signals).toEqual([]);
      await advance(20);
      expect(b!.signals).toEqual(['SIGKILL']);
      await advance(5);
      expect(report).toEqual({ forced: true, killed: 1, unclean: 0 });
      expect(fake.workers).toHaveLength(2); // nothing recovered while stopping
      await expect(supervisor.rollingRestart({ reason: 'late' })).resolves.toMatchObject({ status: 'rejected', code: 'SHUTTING_DOWN' });
    });

    it('gives workers the drain delay and keeps them connected (serving) through it; clean when all exit 0', async () => {
      const { supervisor, fake } = await started({ stopDrainDelayMs: 1500 });
      const [a, b] = fake.workers;
      const stopped = supervisor.stop();
      await advance(1);
      expect(a!.sent[0]).toEqual({ type: 'shutdown', reason: 'supervisor stopping', deadlineMs: 1500 + 2000 + 3000, drainDelayMs: 1500 });
      expect(a!.connected || a!.exited).toBe(true);
      expect(b!.connected || b!.exited).toBe(true);
      await advance(50);
      await expect(stopped).resolves.toEqual({ forced: false, killed: 0, unclean: 0 });
    });

    it('reports forced when a worker had to cut requests itself (exit 1)', async () => {
      const { supervisor, fake } = await started();
      const b = fake.workers[1]!;
      b.send = (message) => {
        b.sent.push(message);
        if (message.type === 'shutdown') setTimeout(() => b.exit(1, null), 10);
        return true;
      };
      const stopped = supervisor.stop();
      await advance(50);
      await expect(stopped).resolves.toEqual({ forced: true, killed: 0, unclean: 1 });
    });
  });

  describe('signals', () => {
    it('SIGHUP rolls (as an acknowledged override), SIGTERM drains, a copy within a second is the same stop, a later one forces', async () => {
      const exit = vi.fn();
      const { supervisor, fake, logs } = await started({ handleSignals: true, exit, churnMax: 0 });
      try {
        process.emit('SIGHUP', 'SIGHUP');
        await advance(200);
        expect(supervisor.status().rollout).toMatchObject({ reason: 'SIGHUP', status: 'completed', override: false });
        // churnMax 0: one crash blocks; SIGHUP still goes through, logged as override.
        await crashAndRecover(fake, 1);
        expect(supervisor.status().policy.state).toBe('blocked');
        process.emit('SIGHUP', 'SIGHUP');
        await advance(200);
        expect(supervisor.status().rollout).toMatchObject({ reason: 'SIGHUP', status: 'completed', override: true });
        expect(logs.some((l) => l.msg.includes('OVERRIDES'))).toBe(true);

        const [a, b] = fake.alive();
        b!.send = (message) => {
          b!.sent.push(message);
          return true;
        };
        process.emit('SIGTERM', 'SIGTERM');
        await advance(100);
        expect(a!.exited).toBe(true);
        process.emit('SIGTERM', 'SIGTERM'); // e.g. npm forwarding the same Ctrl-C
        expect(exit).not.toHaveBeenCalled();
        expect(logs.some((l) => l.msg.includes('same stop'))).toBe(true);
        await advance(1000);
        process.emit('SIGTERM', 'SIGTERM');
        expect(exit).toHaveBeenCalledWith(1);
        await advance(10);
        expect(b!.signals).toEqual(['SIGKILL']);
      } finally {
        supervisor.removeSignalHandlers();
      }
      expect(process.listenerCount('SIGTERM')).toBe(0);
    });

    it('exits 1 after a signal-initiated stop that had to kill a worker', async () => {
      const exit = vi.fn();
      const { supervisor, fake } = await started({ handleSignals: true, exit });
      try {
        const b = fake.workers[1]!;
        b.send = (message) => {
          b.sent.push(message);
          return true;
        };
        process.emit('SIGTERM', 'SIGTERM');
        await advance(5100);
        expect(b.signals).toEqual(['SIGKILL']);
        expect(exit).toHaveBeenCalledWith(1);
      } finally {
        supervisor.removeSignalHandlers();
      }
    });

    it('exits 0 once a signal-initiated stop has drained everything', async () => {
      const exit = vi.fn();
      const { supervisor } = await started({ handleSignals: true, exit });
      try {
        process.emit('SIGINT', 'SIGINT');
        await advance(100);
        expect(exit).toHaveBeenCalledWith(0);
      } finally {
        supervisor.removeSignalHandlers();
      }
    });
  });

  it('validates its options', () => {
    expect(() => setup({ workers: 0 })).toThrow(RangeError);
    expect(() => setup({ readyTimeoutMs: -1 })).toThrow(RangeError);
    expect(() => setup({ exec: '' })).toThrow(TypeError);
  });
});
