import pino from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { MemorySessionBackend } from './memory-session.backend.js';
import { RampartSessionStore } from './rampart-session.store.js';
import type { SessionData } from './session-data.js';
import { SessionBackend, type SessionOwner } from './session-backend.js';
import { SessionStoreUnavailableException } from './session-store-unavailable.exception.js';

const TIMEOUTS = { idleTimeoutS: 60, absoluteTimeoutS: 600, anonymousTimeoutS: 10 };
const silent = pino({ level: 'silent' });

/** Records which conditional write the store chose, over a real in-memory backend. */
class RecordingBackend extends MemorySessionBackend {
  readonly calls: string[] = [];
  readonly ttls: number[] = [];
  override create(id: string, value: string, ttlMs: number, owner?: SessionOwner) {
    this.calls.push(`create ${id}`);
    this.ttls.push(ttlMs);
    return super.create(id, value, ttlMs, owner);
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

const viewer = { id: 1, username: 'u', role: 'viewer' as const };

describe(RampartSessionStore.name, () => {
  let now: number;
  let backend: RecordingBackend;
  let store: RampartSessionStore;

  beforeEach(() => {
    now = 5_000_000;
    backend = new RecordingBackend(100, () => now);
    store = new RampartSessionStore(backend, TIMEOUTS, silent, () => now);
  });

  it('writes a new session with a create (NX) and a loaded one with an update (XX)', async () => {
    const fresh: SessionData = { createdAt: now, user: viewer };
    await store.create('s1', fresh);
    expect(await store.update('s1', fresh)).toBe(true);
    const loaded = await store.load('s1');
    expect(loaded).toEqual(fresh);
    expect(await store.update('s1', loaded!)).toBe(true);
    expect(backend.calls).toEqual(['create s1', 'update s1', 'update s1']);
  });

  it('never writes back a session that was destroyed while a request held it', async () => {
    await store.create('s1', { createdAt: now, user: { id: 1, username: 'u', role: 'operator' } });
    const slowRequest = await store.load('s1');
    await store.destroy('s1');
    slowRequest!.csrfToken = 'changed';
    expect(await store.update('s1', slowRequest!)).toBe(false);
    await store.touch('s1', slowRequest!);
    expect(await backend.read('s1')).toBeNull();
  });

  it('lists a logged-in session under its user, so revoking the user ends every one of them', async () => {
    await store.create('s1', { createdAt: now, user: viewer });
    await store.create('s2', { createdAt: now, user: viewer });
    await store.create('anon', { createdAt: now });
    await store.create('other', { createdAt: now, user: { ...viewer, id: 2 } });
    expect(backend.sessionsOf(viewer.id)).toBe(2);
    await store.destroy('s2', viewer.id);
    expect(backend.sessionsOf(viewer.id)).toBe(1);
    expect(await store.revokeUser(viewer.id)).toBe(1);
    expect(await store.load('s1')).toBeNull();
    expect(await store.load('anon')).not.toBeNull();
    expect(await store.load('other')).not.toBeNull();
  });

  it('refuses to create over an existing id', async () => {
    await store.create('s1', { createdAt: now });
    await expect(store.create('s1', { createdAt: now })).rejects.toThrow('already in use');
  });

  it('slides the idle TTL on touch but never past the absolute deadline', async () => {
    await store.create('s1', { createdAt: now, user: viewer });
    expect(backend.ttls.at(-1)).toBe(60_000);
    // Used every 57 s: each use is within the 60 s idle timeout of the one before.
    for (let i = 0; i < 10; i += 1) {
      now += 57_000;
      const loaded = await store.load('s1');
      expect(loaded, `use ${i}`).not.toBeNull();
      await store.touch('s1', loaded!);
    }
    // 570 s in: the next TTL is what is left of the 600 s absolute timeout, not another 60 s.
    expect(backend.ttls.at(-1)).toBe(30_000);
    now += 30_001;
    expect(await store.load('s1')).toBeNull();
  });

  it('treats a session past its absolute deadline as gone and deletes it', async () => {
    await expect(store.create('s1', { createdAt: now - 600_000, user: viewer })).rejects.toThrow('already expired');
    expect(await backend.read('s1')).toBeNull();
    await backend.create('s2', JSON.stringify({ createdAt: now - 600_001, user: viewer }), 60_000);
    expect(await store.load('s2')).toBeNull();
    expect(await backend.read('s2')).toBeNull();
  });

  it('gives anonymous sessions the anonymous timeout, from creation, however often they are used', async () => {
    await store.create('a1', { createdAt: now });
    expect(backend.ttls.at(-1)).toBe(10_000);
    now += 8000;
    const loaded = await store.load('a1');
    await store.touch('a1', loaded!);
    expect(backend.ttls.at(-1)).toBe(2000);
    now += 2000;
    expect(await store.load('a1')).toBeNull();
  });

  it('stamps a creation time on a session that has none, so it cannot live forever', async () => {
    const data: SessionData = {};
    await store.create('s1', data);
    expect(data.createdAt).toBe(now);
    expect(backend.ttls.at(-1)).toBe(10_000);
  });

  it('reads sessions of the previous release and writes ones it can read (rolling upgrade)', async () => {
    // What express-session stored: the data plus a `cookie` object it insists on when reading.
    const legacy = { cookie: { originalMaxAge: null, path: '/', httpOnly: true }, createdAt: now, user: viewer, csrfToken: 't' };
    await backend.create('old', JSON.stringify(legacy), 60_000);
    expect(await store.load('old')).toEqual({ createdAt: now, user: viewer, csrfToken: 't' });
    await store.create('new', { createdAt: now, user: viewer });
    expect(JSON.parse((await backend.read('new'))!)).toMatchObject({ cookie: { path: '/', httpOnly: true }, createdAt: now, user: viewer });
  });

  it('treats unreadable session data as no session, and deletes it', async () => {
    await backend.create('junk', 'not json', 60_000);
    await backend.create('shape', JSON.stringify({ user: viewer }), 60_000);
    expect(await store.load('junk')).toBeNull();
    expect(await store.load('shape')).toBeNull();
    expect(await backend.read('junk')).toBeNull();
    expect(await backend.read('shape')).toBeNull();
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
      removeUser(): Promise<number> {
        return down();
      }
    }
    const failing = new RampartSessionStore(new Down(), TIMEOUTS, silent, () => now);
    await expect(failing.load('s1')).rejects.toBeInstanceOf(SessionStoreUnavailableException);
    await expect(failing.create('s1', { createdAt: now })).rejects.toBeInstanceOf(SessionStoreUnavailableException);
    // Not a "not found", which would turn an outage into a logout.
    const error = (await failing.load('s1').catch((e: unknown) => e)) as { code?: string };
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
    const data: SessionData = { createdAt: now, user: { id: 1, username: 'a', role: 'viewer' } };
    const touch = () => store.touch('s1', data);
    await touch();
    now += 5_000;
    await touch();
    expect(refreshes).toEqual(['s1']);
    now += 6_000; // past 10 s (200 s / 20)
    await touch();
    expect(refreshes).toEqual(['s1', 's1']);
  });
});
