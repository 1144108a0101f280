import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClient, type RampartRedis } from '../../src/redis/redis-client.js';
import { startOwnRedis, type OwnRedis } from '../support/redis.js';
import { FaultProxy } from './support/fault-proxy.js';
import { sleep, waitFor } from './support/user-load.js';

/** Rampart's own Redis client between a redis-server of this file's own and the fault proxy. */
describe('the Redis client under network faults', () => {
  let redis: OwnRedis;
  let proxy: FaultProxy;
  let opened: RampartRedis | null = null;
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });

  beforeAll(async () => {
    redis = await startOwnRedis();
  });
  afterEach(async () => {
    if (opened) {
      opened.stopWatching();
      opened.client.disconnect();
      opened = null;
    }
    await proxy?.close();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  async function open(settings = { socketTimeoutMs: 500, heartbeatMs: 200 }) {
    proxy = await FaultProxy.start({ host: '127.0.0.1', port: redis.port });
    opened = createRedisClient(proxy.url(redis.url), settings, logger);
    await opened.client.connect();
    return opened.client;
  }

  it('replaces a silently dead connection by itself, with no traffic of its own', async () => {
    const client = await open();
    await client.ping();
    proxy.vanish();
    // Nothing is sent here: only the heartbeat can notice.
    const noticed = await waitFor(() => client.status !== 'ready', 3000, 20);
    expect(noticed).not.toBeNull();
    expect(noticed!).toBeLessThanOrEqual(200 + 500 + 300);
    proxy.pass();
    const back = await waitFor(async () => client.status === 'ready' && (await client.ping()) === 'PONG', 3000, 20);
    expect(back).not.toBeNull();
    expect(lines.some((line) => line.includes('did not answer'))).toBe(true);
  });

  it('bounds a new connection whose handshake is never answered', async () => {
    const client = await open();
    proxy.vanish();
    client.disconnect(true);
    // Every reconnect lands on a black hole; each is given up after the socket timeout, and the
    // client keeps trying rather than hanging in the handshake.
    await sleep(1800);
    expect(client.status).not.toBe('ready');
    proxy.pass();
    const back = await waitFor(() => client.status === 'ready', 3000, 20);
    expect(back).not.toBeNull();
    expect(back!).toBeLessThanOrEqual(500 + 1000 + 300);
  });

  it('never sends a command twice: one in flight when its connection died fails, and runs at most once', async () => {
    const client = await open();
    const key = `incr-${Date.now()}`;
    proxy.stall();
    const outcome = client.incr(key).then(
      () => 'answered',
      (error: Error) => error.message,
    );
    // The watchdog gives the stalled connection up; the held INCR still reaches Redis on pass().
    expect(await outcome).not.toBe('answered');
    proxy.pass();
    expect(await waitFor(() => client.status === 'ready', 3000, 20)).not.toBeNull();
    await sleep(300);
    expect(Number((await client.get(key)) ?? 0)).toBeLessThanOrEqual(1);
  });

  it('survives refused and reset connections, and is back within a second of pass()', async () => {
    const client = await open();
    proxy.refuse();
    proxy.resetAll();
    // Long enough for a doubling backoff to have grown past the bound below.
    await sleep(3500);
    expect(client.status).not.toBe('ready');
    const healedAt = Date.now();
    proxy.pass();
    expect(await waitFor(() => client.status === 'ready', 3000, 10)).not.toBeNull();
    // Reconnect attempts are at most RECONNECT_MAX_MS (1 s) apart.
    expect(Date.now() - healedAt).toBeLessThanOrEqual(1500);
    expect(await client.ping()).toBe('PONG');
  });
});
