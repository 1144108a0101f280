import { describe, expect, it } from 'vitest';
import { isoFromJsonTimestamp } from './json-timestamp.js';

describe(isoFromJsonTimestamp.name, () => {
  it('gives exactly what Date gives, for every fraction length and offset PostgreSQL writes', () => {
    const texts = [
      '2026-01-01T10:00:00.123456+00:00',
      '2026-01-01T10:00:00.123999+00:00',
      '2026-01-01T10:00:00.999999+00:00',
      '2026-01-01T10:00:00+00:00',
      '2026-01-01T10:00:00.1+00:00',
      '2026-01-01T10:00:00.12+00:00',
      '2026-01-01T10:00:00.123+00:00',
      '2026-12-31T23:59:59.9999+00:00',
      '0099-01-01T00:00:00.5+00:00',
      '2026-01-01T10:00:00.5+02:00',
      '2026-01-01T01:00:00.25-05:30',
    ];
    for (const text of texts) expect([text, isoFromJsonTimestamp(text)]).toEqual([text, new Date(text).toISOString()]);
  });

  it('rewrites UTC text without a Date, and hands anything else to Date', () => {
    expect(isoFromJsonTimestamp('2026-01-02T03:04:05.678901+00:00')).toBe('2026-01-02T03:04:05.678Z');
    expect(isoFromJsonTimestamp('2026-01-02T03:04:05+01:00')).toBe('2026-01-02T02:04:05.000Z');
    expect(() => isoFromJsonTimestamp('not a time')).toThrow(RangeError);
  });
});
