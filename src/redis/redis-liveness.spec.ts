import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RedisSilentError, watchLiveness, type WatchedRedis } from './redis-liveness.js';

class FakeSocket {
  destroyed = false;
  error: Error | undefined;
  destroy(error?: Error): void {
    this.destroyed = true;
    this.error = error;
  }
}

/** An ioredis client as far as the watchdog sees it; PINGs answer only when told to. */
class FakeRedis extends EventEmitter {
  status = 'wait';
  stream = new FakeSocket();
  pings: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  ping(): Promise<string> {
    return new Promise((resolve, reject) => this.pings.push({ resolve: () => resolve('PONG'), reject }));
  }
  connectNew(): FakeSocket {
    this.stream = new FakeSocket();
    this.status = 'connect';
    this.emit('connect');
    return this.stream;
  }
  ready(): void {
    this.status = 'ready';
    this.emit('ready');
  }
}

const OPTIONS = { heartbeatMs: 1000, timeoutMs: 2000 };

describe('Redis liveness watchdog', () => {
  let client: FakeRedis;
  let stop: () => void;

  beforeEach(() => {
    vi.useFakeTimers();
    client = new FakeRedis();
    ({ stop } = watchLiveness(client as unknown as WatchedRedis, OPTIONS));
  });
  afterEach(() => {
    stop();
    vi.useRealTimers();
  });

  it('destroys a ready socket whose PING is not answered in time, so the client reconnects', async () => {
    const socket = client.connectNew();
    client.ready();
    await vi.advanceTimersByTimeAsync(1000);
    expect(client.pings).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1999);
    expect(socket.destroyed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(socket.destroyed).toBe(true);
    expect(socket.error).toBeInstanceOf(RedisSilentError);
  });

  it('keeps a socket that answers, and probes it again every heartbeat', async () => {
    const socket = client.connectNew();
    client.ready();
    for (let beat = 1; beat <= 5; beat += 1) {
      await vi.advanceTimersByTimeAsync(1000);
      expect(client.pings).toHaveLength(beat);
      client.pings[beat - 1]!.resolve();
    }
    expect(socket.destroyed).toBe(false);
  });

  it('does not let a command timeout on the PING reset the deadline', async () => {
    const socket = client.connectNew();
    client.ready();
    await vi.advanceTimersByTimeAsync(1000);
    // commandTimeout fires before the socket deadline: the socket is still unproven.
    client.pings[0]!.reject(new Error('Command timed out'));
    await vi.advanceTimersByTimeAsync(1000);
    expect(client.pings).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(socket.destroyed).toBe(true);
  });

  it('never destroys the replacement for an unanswered PING of the socket before it', async () => {
    const first = client.connectNew();
    client.ready();
    await vi.advanceTimersByTimeAsync(1000);
    // The first socket is reset by the peer; the client is on a new, healthy one.
    first.destroyed = true;
    const second = client.connectNew();
    client.ready();
    await vi.advanceTimersByTimeAsync(2500);
    client.pings.slice(1).forEach((p) => p.resolve());
    expect(second.destroyed).toBe(false);
  });

  it('destroys a socket that connected but never finished its handshake', async () => {
    const socket = client.connectNew();
    await vi.advanceTimersByTimeAsync(1999);
    expect(socket.destroyed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(socket.destroyed).toBe(true);
    expect(client.pings).toHaveLength(0);
  });

  it('leaves a handshake that completed in time alone', async () => {
    const socket = client.connectNew();
    await vi.advanceTimersByTimeAsync(500);
    client.ready();
    await vi.advanceTimersByTimeAsync(1000);
    client.pings[0]!.resolve();
    await vi.advanceTimersByTimeAsync(1000);
    client.pings[1]!.resolve();
    await vi.advanceTimersByTimeAsync(1000);
    expect(socket.destroyed).toBe(false);
  });

  it('does nothing once stopped', async () => {
    const socket = client.connectNew();
    client.ready();
    stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(client.pings).toHaveLength(0);
    expect(socket.destroyed).toBe(false);
  });
});
