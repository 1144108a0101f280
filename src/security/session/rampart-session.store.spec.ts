import type { Request } from 'express';
import type { SessionData } from 'express-session';
import pino from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { MemorySessionBackend } from './memory-session.backend.js';
import { RampartSessionStore } from './rampart-session.store.js';
import { SessionBackend } from './session-backend.js';
import { SessionStoreUnavailableException } from './session-store-unavailable.exception.js';

const TIMEOUTS = { idleTimeoutS: 60, absoluteTimeoutS: 600, anonymousTimeoutS: 10 };
const silent = pino({ level: 'silent' });

/** Records which conditional write the store chose, over a real in-memory backend. */
class RecordingBackend extends MemorySessionBackend {
  readonly calls: string[] = [];
  readonly ttls: number[] = [];
  override create(id: string, value: string, ttlMs: number) {
    this.calls.push(`create ${id}`);
    this.ttls.push(ttlMs);
    return super.create(id, value, ttlMs);
  }
  override update(id: string, value: string, ttlMs: number) {
    this.calls.push(`update ${id}`);
    this.ttls.push(ttlMs);
    return super.update(id, value, ttlMs);
  }
  override refresh(id: string, ttlMs: number) {
    this.calls.push(`refresh ${id}`);
    this.ttls.push(ttlMs);
    return super.refresh(id, ttlMs);
  }
}

function cb<T = void>(fn: (done: (err?: unknown, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));
}

const cookie = { originalMaxAge: null, path: '/', httpOnly: true } as unknown as SessionData['cookie'];

describe(RampartSessionStore.name, () => {
  let now: number;
  let backend: RecordingBackend;
  let store: RampartSessionStore;

  beforeEach(() => {
    now = 5_000_000;
    backend = new RecordingBackend(100, () => now);
    store = new RampartSessionStore(backend, TIMEOUTS, silent, () => now);
  });

  /** What express-session does for a request that sends this session's cookie. */
  async function load(sid: string) {
    const data = await cb<SessionData | null>((done) => store.get(sid, done));
    if (!data) return null;
    const req = { sessionID: sid } as unknown as Request;
    return store.createSession(req, data);
  }

  it('writes a new session with a create (NX) and a loaded one with an update (XX)', async () => {
    const fresh = { cookie, createdAt: now, user: { id: 1, username: 'u', role: 'viewer' } } as SessionData;
    await cb((done) => store.set('s1', fresh, done));
    // A second save of the same object in the same request is an update.
    await cb((done) => store.set('s1', fresh, done));
    const loaded = await load('s1');
    await cb((done) => store.set('s1', loaded!, done));
    expect(backend.calls).toEqual(['create s1', 'update s1', 'update s1']);
  });

  it('never writes back a session that was destroyed while a request held it', async () => {
    await cb((done) => store.set('s1', { cookie, createdAt: now, user: { id: 1, username: 'u', role: 'operator' } } as SessionData, done));
    const slowRequest = await load('s1');
    await cb((done) => store.destroy('s1', done));
    (slowRequest as SessionData & { csrfToken?: string }).csrfToken = 'changed';
    await cb((done) => store.set('s1', slowRequest!, done));
    await cb((done) => store.touch!('s1', slowRequest!, done));
    expect(await backend.read('s1')).toBeNull();
  });

  it('refuses to create over an existing id', async () => {
    await cb((done) => store.set('s1', { cookie, createdAt: now } as SessionData, done));
    await expect(cb((done) => store.set('s1', { cookie, createdAt: now } as SessionData, done))).rejects.toThrow('already in use');
  });

  it('slides the idle TTL on touch but never past the absolute deadline', async () => {
    const user = { id: 1, username: 'u', role: 'viewer' as const };
    await cb((done) => store.set('s1', { cookie, createdAt: now, user } as SessionData, done));
    expect(backend.ttls.at(-1)).toBe(60_000);
    // Used every 57 s: each use is within the 60 s idle timeout of the one before.
    for (let i = 0; i < 10; i += 1) {
      now += 57_000;
      const loaded = await load('s1');
      expect(loaded, `use ${i}`).not.toBeNull();
      await cb((done) => store.touch!('s1', loaded!, done));
    }
    // 570 s in: the next TTL is what is left of the 600 s absolute timeout, not another 60 s.
    expect(backend.ttls.at(-1)).toBe(30_000);
    now += 30_001;
    expect(await load('s1')).toBeNull();
  });

  it('treats a session past its absolute deadline as gone and deletes it', async () => {
    const user = { id: 1, username: 'u', role: 'viewer' as const };
    await cb((done) => store.set('s1', { cookie, createdAt: now - 600_000, user } as SessionData, done));
    expect(await backend.read('s1')).toBeNull();
    await backend.create('s2', JSON.stringify({ cookie, createdAt: now - 600_001, user }), 60_000);
    expect(await load('s2')).toBeNull();
    expect(await backend.read('s2')).toBeNull();
  });

  it('gives anonymous sessions the anonymous timeout, from creation, however often they are used', async () => {
    await cb((done) => store.set('a1', { cookie, createdAt: now } as SessionData, done));
    expect(backend.ttls.at(-1)).toBe(10_000);
    now += 8000;
    const loaded = await load('a1');
    await cb((done) => store.touch!('a1', loaded!, done));
    expect(backend.ttls.at(-1)).toBe(2000);
    now += 2000;
    expect(await load('a1')).toBeNull();
  });

  it('stamps a creation time on a session that has none, so it cannot live forever', async () => {
    const data = { cookie } as SessionData;
    await cb((done) => store.set('s1', data, done));
    expect(data.createdAt).toBe(now);
    expect(backend.ttls.at(-1)).toBe(10_000);
  });

  it('passes store failures on as errors, never as "no session"', async () => {
    const down = () => Promise.reject(new SessionStoreUnavailableException(new Error('ECONNREFUSED')));
    class Down extends SessionBackend {
      read(): Promise<string | null> {
        return down();
      }
      create(): Promise<boolean> {
        return down();
      }
      update(): Promise<boolean> {
        return down();
      }
      refresh(): Promise<boolean> {
        return down();
      }
      remove(): Promise<void> {
        return down();
      }
    }
    const failing = new RampartSessionStore(new Down(), TIMEOUTS, silent, () => now);
    const read = () => cb<SessionData | null>((done) => failing.get('s1', done));
    await expect(read()).rejects.toBeInstanceOf(SessionStoreUnavailableException);
    await expect(cb((done) => failing.set('s1', { cookie, createdAt: now } as SessionData, done))).rejects.toBeInstanceOf(
      SessionStoreUnavailableException,
    );
    // Not the express-session "not found" convention, which would turn an outage into a logout.
    const error = (await read().catch((e: unknown) => e)) as { code?: string };
    expect(error.code).toBe('SESSION_STORE_UNAVAILABLE');
  });
});

describe('RampartSessionStore idle-timeout slides', () => {
  it('refreshes the TTL at most once per granularity (a twentieth of the idle timeout) per session', async () => {
    let now = 1_000_000;
    const refreshes: string[] = [];
    const backend = {
      read: async () => null,
      create: async () => true,
      update: async () => true,
      refresh: async (sid: string) => {
        refreshes.push(sid);
      },
      remove: async () => undefined,
    };
    const store = new RampartSessionStore(
      backend as unknown as ConstructorParameters<typeof RampartSessionStore>[0],
      { idleTimeoutS: 200, absoluteTimeoutS: 3600, anonymousTimeoutS: 60 },
      pino({ level: 'silent' }),
      () => now,
    );
    const data = { cookie: {}, createdAt: now, user: { id: 1, username: 'a', role: 'viewer' } } as unknown as Parameters<typeof store.touch>[1];
    const touch = () => new Promise<void>((resolve) => store.touch('s1', data, () => resolve()));
    await touch();
    now += 5_000;
    await touch();
    expect(refreshes).toEqual(['s1']);
    now += 6_000; // past 10 s (200 s / 20)
    await touch();
    expect(refreshes).toEqual(['s1', 's1']);
  });
});
