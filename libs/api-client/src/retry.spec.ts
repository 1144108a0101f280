import { describe, expect, it } from 'vitest';

import { backoffCeiling, fullJitterDelay, isIdempotent, isUnsafeMethod, parseRetryAfter } from './retry.js';

describe('fullJitterDelay', () => {
  it('draws from [0, min(cap, base * 2^retry))', () => {
    const high = (): number => 0.999;
    expect([0, 1, 2, 3, 4, 5].map((retry) => fullJitterDelay(retry, 100, 1000, high))).toEqual([99, 199, 399, 799, 999, 999]);
    expect([0, 3, 10].map((retry) => fullJitterDelay(retry, 100, 1000, () => 0))).toEqual([0, 0, 0]);
  });

  it('stays at the cap instead of overflowing after many retries', () => {
    expect(backoffCeiling(5000, 100, 1000)).toBe(1000);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2030-01-01T00:00:00Z');

  it('reads delta-seconds', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
  });

  it('reads an HTTP date relative to now, never negative', () => {
    expect(parseRetryAfter('Tue, 01 Jan 2030 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Mon, 31 Dec 2029 23:59:00 GMT', now)).toBe(0);
  });

  it('ignores absent or unreadable values', () => {
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter('-5', now)).toBeNull();
  });
});

describe('isIdempotent', () => {
  it('treats GET, HEAD, PUT and DELETE as idempotent, POST and PATCH only with an Idempotency-Key', () => {
    const none = new Headers();
    const keyed = new Headers({ 'Idempotency-Key': 'k1' });
    expect(['GET', 'HEAD', 'PUT', 'DELETE'].every((m) => isIdempotent(m as 'GET', none))).toBe(true);
    expect(isIdempotent('POST', none)).toBe(false);
    expect(isIdempotent('PATCH', none)).toBe(false);
    expect(isIdempotent('POST', keyed)).toBe(true);
  });

  it('counts POST, PUT, PATCH and DELETE as unsafe', () => {
    expect(['POST', 'PUT', 'PATCH', 'DELETE'].every((m) => isUnsafeMethod(m as 'POST'))).toBe(true);
    expect(isUnsafeMethod('GET') || isUnsafeMethod('HEAD')).toBe(false);
  });
});
