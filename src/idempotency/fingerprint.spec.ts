import { describe, expect, it } from 'vitest';
import { canonicalJson, IDEMPOTENCY_KEY_PATTERN, requestFingerprint } from './fingerprint.js';

describe('request fingerprint', () => {
  const base = { method: 'POST', route: '/api/lots/:id/notes', params: { id: '1' }, body: { text: 'a', n: [1, { y: 2, x: 1 }] } };

  it('ignores object key order at every depth, not array order', () => {
    expect(canonicalJson({ b: 1, a: { d: 2, c: 3 } })).toBe('{"a":{"c":3,"d":2},"b":1}');
    expect(requestFingerprint(base)).toBe(requestFingerprint({ ...base, body: { n: [1, { x: 1, y: 2 }], text: 'a' } }));
    expect(requestFingerprint(base)).not.toBe(requestFingerprint({ ...base, body: { ...base.body, n: [{ y: 2, x: 1 }, 1] } }));
  });

  it('differs by method, route, parameters and body', () => {
    const fp = requestFingerprint(base);
    expect(requestFingerprint({ ...base, method: 'PUT' })).not.toBe(fp);
    expect(requestFingerprint({ ...base, route: '/admin/api/worker/restart' })).not.toBe(fp);
    expect(requestFingerprint({ ...base, params: { id: '2' } })).not.toBe(fp);
    expect(requestFingerprint({ ...base, body: { ...base.body, text: 'b' } })).not.toBe(fp);
  });

  it('accepts exactly the contract key format', () => {
    expect(IDEMPOTENCY_KEY_PATTERN.test('a.b_c:d-E9')).toBe(true);
    expect(IDEMPOTENCY_KEY_PATTERN.test('x'.repeat(128))).toBe(true);
    for (const bad of ['', 'x'.repeat(129), 'a b', 'a/b', 'a,b', 'ä']) expect(IDEMPOTENCY_KEY_PATTERN.test(bad), bad).toBe(false);
  });
});
