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
});
