import { describe, expect, it } from 'vitest';
import { MemorySessionBackend } from './memory-session.backend.js';

describe(MemorySessionBackend.name, () => {
  const clock = () => {
    let now = 1_000_000;
    return { now: () => now, advance: (ms: number) => (now += ms) };
  };

  it('creates only absent sessions and updates or refreshes only present ones', async () => {
    const time = clock();
    const backend = new MemorySessionBackend(10, time.now);
    expect(await backend.update('a', 'v1', 1000)).toBe(false);
    expect(await backend.refresh('a', 1000)).toBe(false);
    expect(await backend.read('a')).toBeNull();
    expect(await backend.create('a', 'v1', 1000)).toBe(true);
    expect(await backend.create('a', 'v2', 1000)).toBe(false);
    expect(await backend.update('a', 'v3', 1000)).toBe(true);
    expect(await backend.read('a')).toBe('v3');
    await backend.remove('a');
    expect(await backend.update('a', 'v4', 1000)).toBe(false);
    expect(await backend.read('a')).toBeNull();
  });

  it('expires entries after their TTL and a refresh extends it', async () => {
    const time = clock();
    const backend = new MemorySessionBackend(10, time.now);
    await backend.create('a', 'v', 1000);
    time.advance(900);
    expect(await backend.refresh('a', 1000)).toBe(true);
    time.advance(900);
    expect(await backend.read('a')).toBe('v');
    time.advance(101);
    expect(await backend.read('a')).toBeNull();
    expect(await backend.refresh('a', 1000)).toBe(false);
  });

  it('stays within its capacity, evicting the least recently written session', async () => {
    const backend = new MemorySessionBackend(3, clock().now);
    for (const id of ['a', 'b', 'c']) await backend.create(id, id, 60_000);
    await backend.refresh('a', 60_000);
    await backend.create('d', 'd', 60_000);
    expect(backend.size).toBe(3);
    expect(await backend.read('b')).toBeNull();
    expect(await backend.read('a')).toBe('a');
  });

  it('drops expired entries as it writes, without waiting for capacity pressure', async () => {
    const time = clock();
    const backend = new MemorySessionBackend(1000, time.now);
    for (let i = 0; i < 8; i += 1) await backend.create(`old${i}`, 'x', 100);
    time.advance(200);
    await backend.create('n1', 'x', 100);
    await backend.create('n2', 'x', 100);
    expect(backend.size).toBe(2);
  });

  it('lists logged-in sessions under their user, removes them all at once, and never lists an entry that is gone', async () => {
    const time = clock();
    const backend = new MemorySessionBackend(3, time.now);
    const owner = (userId: number) => ({ userId, expiresAt: time.now() + 60_000 });
    await backend.create('a1', 'x', 60_000, owner(1));
    await backend.create('a2', 'x', 1000, owner(1));
    await backend.create('b1', 'x', 60_000, owner(2));
    expect(backend.sessionsOf(1)).toBe(2);
    time.advance(1001);
    // a2 expired: it is neither live nor listed once seen.
    expect(await backend.removeUser(1)).toBe(1);
    expect(await backend.read('a1')).toBeNull();
    expect(backend.sessionsOf(1)).toBe(0);
    expect(await backend.read('b1')).toBe('x');
    // Evicted by capacity: the index forgets it too.
    await backend.create('c1', 'x', 60_000, owner(3));
    await backend.create('c2', 'x', 60_000, owner(3));
    await backend.create('c3', 'x', 60_000, owner(3));
    expect(await backend.read('b1')).toBeNull();
    expect(backend.sessionsOf(2)).toBe(0);
    await backend.remove('c1');
    expect(backend.sessionsOf(3)).toBe(2);
    expect(await backend.removeUser(3)).toBe(2);
  });
});
