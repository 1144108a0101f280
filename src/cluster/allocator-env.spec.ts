import { describe, expect, it } from 'vitest';
import { ALLOCATOR_DEFAULTS, allocatorEnvFor } from './allocator-env.js';

describe('allocator environment for workers', () => {
  it('passes the fixed mmap threshold to workers when the operator has not set it', () => {
    expect(allocatorEnvFor({ PATH: '/usr/bin' })).toEqual({ MALLOC_MMAP_THRESHOLD_: '131072' });
    expect(Object.keys(ALLOCATOR_DEFAULTS)).toEqual(['MALLOC_MMAP_THRESHOLD_']);
  });

  it("never overrides the operator's value, even an empty one", () => {
    expect(allocatorEnvFor({ MALLOC_MMAP_THRESHOLD_: '1048576' })).toEqual({});
    expect(allocatorEnvFor({ MALLOC_MMAP_THRESHOLD_: '' })).toEqual({});
  });
});
