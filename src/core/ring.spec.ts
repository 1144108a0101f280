import { describe, expect, it } from 'vitest';
import { BoundedRing } from './ring.js';

describe('BoundedRing', () => {
  it('keeps the newest items up to its capacity, oldest first', () => {
    const ring = new BoundedRing<number>(3);
    for (const n of [1, 2, 3, 4, 5]) ring.push(n);
    expect(ring.size).toBe(3);
    expect(ring.toArray()).toEqual([3, 4, 5]);
    expect(ring.last()).toBe(5);
  });

  it('replaces the newest item in place, and pushes when empty', () => {
    const ring = new BoundedRing<string>(2);
    ring.replaceLast('a');
    ring.push('b');
    ring.push('c');
    ring.replaceLast('C');
    expect(ring.toArray()).toEqual(['b', 'C']);
    ring.clear();
    expect(ring.toArray()).toEqual([]);
    expect(ring.last()).toBeUndefined();
  });

  it('refuses a capacity that could not hold anything', () => {
    expect(() => new BoundedRing(0)).toThrow(RangeError);
  });
});
