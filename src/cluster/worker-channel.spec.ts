import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createWorkerChannel, SupervisorRequestError, type IpcPort, type WorkerChannel } from './worker-channel.js';

class FakePort implements IpcPort {
  readonly sent: Array<Record<string, unknown>> = [];
  isConnected = true;
  private messageListeners: Array<(message: unknown) => void> = [];
  private disconnectListeners: Array<() => void> = [];

  connected(): boolean {
    return this.isConnected;
  }
  send(message: unknown): void {
    if (!this.isConnected) throw new Error('channel closed');
    this.sent.push(message as Record<string, unknown>);
  }
  onMessage(listener: (message: unknown) => void): () => void {
    this.messageListeners.push(listener);
    return () => (this.messageListeners = this.messageListeners.filter((l) => l !== listener));
  }
  onDisconnect(listener: () => void): () => void {
    this.disconnectListeners.push(listener);
    return () => (this.disconnectListeners = this.disconnectListeners.filter((l) => l !== listener));
  }
  deliver(message: unknown): void {
    for (const listener of this.messageListeners) listener(message);
  }
  disconnect(): void {
    this.isConnected = false;
    for (const listener of this.disconnectListeners) listener();
  }
  listenerCount(): number {
    return this.messageListeners.length + this.disconnectListeners.length;
  }
  ofType(type: string): Array<Record<string, unknown>> {
    return this.sent.filter((m) => m['type'] === type);
  }
}

describe('WorkerChannel (cluster mode)', () => {
  let port: FakePort;
  let channel: WorkerChannel;

  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2025-01-01T12:00:00Z') });
    port = new FakePort();
    channel = createWorkerChannel({ port, heartbeatIntervalMs: 1000, requestTimeoutMs: 3000 });
  });
  afterEach(() => {
    channel.close();
    vi.useRealTimers();
  });

  it('sends ready once and starts heartbeating every interval', async () => {
    expect(channel.mode).toBe('cluster');
    channel.notifyReady();
    channel.notifyReady();
    expect(port.ofType('ready')).toEqual([{ type: 'ready' }]);
    await vi.advanceTimersByTimeAsync(3000);
    const beats = port.ofType('heartbeat');
    expect(beats).toHaveLength(3);
    expect(beats[2]).toMatchObject({ type: 'heartbeat', at: Date.now() });
    expect(typeof beats[0]!['lagMs']).toBe('number');
    expect(channel.eventLoopLagMs()).not.toBeNull();
  });

  it('reports RSS and the requests counted so far in every heartbeat (worker recycling)', async () => {
    channel.startHeartbeat();
    channel.countRequest();
    channel.countRequest();
    await vi.advanceTimersByTimeAsync(1000);
    channel.countRequest();
    await vi.advanceTimersByTimeAsync(1000);
    const beats = port.ofType('heartbeat');
    expect(beats.map((b) => b['requests'])).toEqual([2, 3]);
    expect(beats[1]!['rssBytes']).toBeGreaterThan(1024 * 1024);
  });

  it('passes runtime log level messages from the primary to its listeners, and asks the primary to set one', async () => {
    const seen: unknown[] = [];
    channel.onLogLevel((change) => seen.push(change));
    port.deliver({ type: 'logLevel', level: 'debug', remainingMs: 5000, revertsAt: '2025-01-01T12:00:05.000Z', reason: 'r', setBy: 'admin' });
    port.deliver({ type: 'logLevel', level: 'loud', remainingMs: 5000 });
    expect(seen).toEqual([{ type: 'logLevel', level: 'debug', remainingMs: 5000, revertsAt: '2025-01-01T12:00:05.000Z', reason: 'r', setBy: 'admin' }]);
    const answer = channel.requestSetLogLevel({ level: 'trace', durationMs: 60_000, reason: 'why', requestedBy: 'admin' });
    const [request] = port.ofType('request');
    expect(request).toMatchObject({ op: 'setLogLevel', payload: { level: 'trace', durationMs: 60_000, reason: 'why', requestedBy: 'admin' } });
    port.deliver({ type: 'response', id: request!['id'], ok: true, result: { level: 'trace', revertsAt: 'x', reason: 'why', setBy: 'admin' } });
    await expect(answer).resolves.toMatchObject({ level: 'trace' });
  });

  it('reports a late timer as lag', async () => {
    channel.startHeartbeat();
    await vi.advanceTimersByTimeAsync(1000);
    // Simulate a 700 ms block: the wall clock jumps while no timer could run, so the next
    // beat comes 700 ms later than scheduled.
    vi.setSystemTime(Date.now() + 700);
    await vi.advanceTimersByTimeAsync(1000);
    expect(channel.eventLoopLagMs()).toBeGreaterThanOrEqual(700);
    expect(port.ofType('heartbeat').at(-1)!['lagMs']).toBeGreaterThanOrEqual(700);
  });

  it('stops sending once the channel is gone, without throwing', async () => {
    channel.notifyReady();
    port.isConnected = false;
    await vi.advanceTimersByTimeAsync(2000);
    expect(port.ofType('heartbeat')).toHaveLength(0);
  });

  it('calls every shutdown callback synchronously, even when one throws', () => {
    const errors: unknown[] = [];
    channel.close();
    channel = createWorkerChannel({ port, onError: (error) => errors.push(error) });
    const calls: string[] = [];
    channel.onShutdown(() => {
      calls.push('first');
      throw new Error('boom');
    });
    const off = channel.onShutdown(() => calls.push('removed'));
    channel.onShutdown((request) => calls.push(`third ${request.reason} ${request.deadlineMs}`));
    off();
    port.deliver({ type: 'shutdown', reason: 'rolling restart r-1', deadlineMs: 5000 });
    expect(calls).toEqual(['first', 'third rolling restart r-1 5000']);
    expect(channel.draining).toBe(true);
    expect(errors).toHaveLength(1);
  });

  it('passes a stop\'s drain delay to the callbacks and tells the primary about its own stop signal', () => {
    const seen: unknown[] = [];
    channel.onShutdown((request) => seen.push(request));
    port.deliver({ type: 'shutdown', reason: 'supervisor stopping', deadlineMs: 9000, drainDelayMs: 5000 });
    expect(seen).toEqual([{ reason: 'supervisor stopping', deadlineMs: 9000, drainDelayMs: 5000 }]);
    channel.notifyStopping('SIGTERM');
    expect(port.ofType('stopping')).toEqual([{ type: 'stopping', signal: 'SIGTERM' }]);
  });

  it('correlates responses to requests', async () => {
    const status = channel.requestStatus();
    const restart = channel.requestRollingRestart({ reason: 'deploy', acknowledgeOverride: true });
    const [statusRequest, restartRequest] = port.ofType('request');
    expect(statusRequest).toMatchObject({ type: 'request', op: 'status' });
    expect(restartRequest).toMatchObject({ type: 'request', op: 'rollingRestart', payload: { reason: 'deploy', acknowledgeOverride: true } });
    expect(statusRequest!['id']).not.toBe(restartRequest!['id']);

    port.deliver({ type: 'response', id: restartRequest!['id'], ok: false, error: { code: 'RESTART_BLOCKED', message: 'blocked' } });
    port.deliver({ type: 'response', id: statusRequest!['id'], ok: true, result: { mode: 'cluster' } });
    port.deliver({ type: 'response', id: 'unknown', ok: true, result: {} });
    await expect(status).resolves.toEqual({ mode: 'cluster' });
    await expect(restart).rejects.toMatchObject({ name: 'SupervisorRequestError', code: 'RESTART_BLOCKED' });
  });

  it('times out a request the primary never answers', async () => {
    const status = channel.requestStatus();
    const assertion = expect(status).rejects.toMatchObject({ code: 'SUPERVISOR_TIMEOUT' });
    await vi.advanceTimersByTimeAsync(3000);
    await assertion;
  });

  it('fails pending and new requests when the channel closes', async () => {
    const pending = channel.requestStatus();
    port.disconnect();
    await expect(pending).rejects.toBeInstanceOf(SupervisorRequestError);
    await expect(channel.requestStatus()).rejects.toMatchObject({ code: 'SUPERVISOR_UNAVAILABLE' });
  });

  it('close() removes its listeners and timers', () => {
    channel.notifyReady();
    channel.close();
    expect(port.listenerCount()).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('WorkerChannel (single mode)', () => {
  it('answers locally: status of this process, rolling restart refused as NOT_CLUSTERED', async () => {
    // Vitest workers are not cluster workers, so the default factory picks single mode.
    const channel = createWorkerChannel({ single: { churnWindowS: 600, churnMax: 3, cooldownS: 30 } });
    try {
      expect(channel.mode).toBe('single');
      channel.notifyReady();
      const status = await channel.requestStatus();
      expect(status).toMatchObject({
        mode: 'single',
        pid: process.pid,
        desiredWorkers: 1,
        workers: [{ slot: 0, pid: process.pid, state: 'ready', watchdog: 'n/a' }],
        churn: { windowS: 600, restarts: 0, threshold: 3, exceeded: false },
        policy: { state: 'allowed', nextAction: 'automatic recovery allowed' },
      });
      const restart = await channel.requestRollingRestart({ reason: 'deploy', restartId: 'r-9' });
      expect(restart).toMatchObject({ status: 'rejected', code: 'NOT_CLUSTERED', restartId: 'r-9' });
    } finally {
      channel.close();
    }
  });

  it('applies a runtime log level here, through the same listeners', async () => {
    const channel = createWorkerChannel();
    try {
      const seen: Array<{ level: string | null; remainingMs: number }> = [];
      channel.onLogLevel((change) => seen.push(change));
      const result = await channel.requestSetLogLevel({ level: 'debug', durationMs: 120_000, reason: 'single', requestedBy: 'admin' });
      expect(seen).toMatchObject([{ level: 'debug', remainingMs: 120_000, revertsAt: result.revertsAt, setBy: 'admin' }]);
      expect(Date.parse(result.revertsAt) - Date.now()).toBeGreaterThan(110_000);
    } finally {
      channel.close();
    }
  });
});
