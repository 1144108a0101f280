import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RampartSessionStore } from '../../src/security/session/rampart-session.store.js';
import { RedisSessionBackend } from '../../src/security/session/redis-session.backend.js';
import { SessionStoreUnavailableException } from '../../src/security/session/session-store-unavailable.exception.js';
import { SHARED_REDIS_URL, startOwnRedis, uniquePrefix } from '../support/redis.js';

const TIMEOUTS = { idleTimeoutS: 60, absoluteTimeoutS: 3600, anonymousTimeoutS: 30 };
const user = { id: 1, username: 'op', role: 'operator' as const };

describe(RedisSessionBackend.name, () => {
  let prefix: string;
  // Two connections, as two workers (or a request and a logout on different workers) would have.
  let slowWorker: Redis;
  let otherWorker: Redis;
  let backend: RedisSessionBackend;
  let store: RampartSessionStore;
  let otherStore: RampartSessionStore;
  const silent = pino({ level: 'silent' });

  beforeAll(() => {
    prefix = uniquePrefix();
    slowWorker = new Redis(SHARED_REDIS_URL);
    otherWorker = new Redis(SHARED_REDIS_URL);
    backend = new RedisSessionBackend(slowWorker, prefix);
    store = new RampartSessionStore(backend, TIMEOUTS, silent);
    otherStore = new RampartSessionStore(new RedisSessionBackend(otherWorker, prefix), TIMEOUTS, silent);
  });
  afterAll(async () => {
    const keys = await otherWorker.keys(`${prefix}*`);
    if (keys.length > 0) await otherWorker.del(...keys);
    slowWorker.disconnect();
    otherWorker.disconnect();
  });

  it('creates with NX and updates or refreshes with XX semantics in Redis itself', async () => {
    expect(await backend.update('s1', '{}', 10_000)).toBe(false);
    expect(await backend.refresh('s1', 10_000)).toBe(false);
    expect(await otherWorker.exists(`${prefix}sess:s1`)).toBe(0);
    expect(await backend.create('s1', '{"v":1}', 10_000)).toBe(true);
    expect(await backend.create('s1', '{"v":2}', 10_000)).toBe(false);
    expect(await backend.read('s1')).toBe('{"v":1}');
    expect(await backend.update('s1', '{"v":3}', 20_000)).toBe(true);
    expect(await otherWorker.pttl(`${prefix}sess:s1`)).toBeGreaterThan(10_000);
    expect(await backend.refresh('s1', 5000)).toBe(true);
    expect(await otherWorker.pttl(`${prefix}sess:s1`)).toBeLessThanOrEqual(5000);
    await backend.remove('s1');
    expect(await backend.read('s1')).toBeNull();
  });

  it('a request that loaded the session before a logout on another worker cannot write it back', async () => {
    await otherStore.create('race', { createdAt: Date.now(), user });
    // The slow request reads the session, then takes its time.
    const held = await store.load('race');
    // Logout on the other worker deletes the key.
    await otherStore.destroy('race');
    // The slow request changed the session (a new CSRF token, say) and saves it as it ends...
    held!.csrfToken = 'minted-after-logout';
    expect(await store.update('race', held!)).toBe(false);
    // ...or merely touches it to slide the idle timeout.
    await store.touch('race', held!);
    expect(await otherWorker.exists(`${prefix}sess:race`)).toBe(0);
    expect(await otherStore.load('race')).toBeNull();
  });

  it('keeps the logout when many slow requests end around it', async () => {
    await otherStore.create('crowd', { createdAt: Date.now(), user });
    const held = await Promise.all(Array.from({ length: 20 }, () => store.load('crowd')));
    await otherStore.destroy('crowd');
    await Promise.all(
      held.map((session, i) => {
        session!.csrfToken = `t${i}`;
        return i % 2 === 0 ? store.update('crowd', session!) : store.touch('crowd', session!);
      }),
    );
    expect(await otherWorker.exists(`${prefix}sess:crowd`)).toBe(0);
  });

  it('reports an unreachable Redis as SESSION_STORE_UNAVAILABLE', async () => {
    const own = await startOwnRedis();
    // The app's client options: fail fast instead of queueing behind a dead link.
    const client = new Redis(own.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => 200, lazyConnect: true });
    client.on('error', () => {});
    try {
      await client.connect();
      const unreachable = new RedisSessionBackend(client, prefix);
      expect(await unreachable.create('x', '{}', 1000)).toBe(true);
      await own.stop();
      await expect(unreachable.read('x')).rejects.toBeInstanceOf(SessionStoreUnavailableException);
      await expect(unreachable.update('x', '{}', 1000)).rejects.toBeInstanceOf(SessionStoreUnavailableException);
    } finally {
      client.disconnect();
      await own.stop();
    }
  });
});
