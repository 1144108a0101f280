import { describe, expect, it } from 'vitest';
import { describeStartupError } from './startup-error.js';

describe(describeStartupError.name, () => {
  it('uses the message when there is one, on one line', () => {
    expect(describeStartupError(new Error('DATABASE_URL host unreachable\nsecond line'))).toBe('DATABASE_URL host unreachable second line');
  });

  it('adds an errno code the message does not already name', () => {
    expect(describeStartupError(Object.assign(new Error('listen failed'), { code: 'EADDRINUSE' }))).toBe('listen failed (EADDRINUSE)');
    expect(describeStartupError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe(
      'connect ECONNREFUSED 127.0.0.1:5432',
    );
  });

  it.each([undefined, null, '', new Error(''), {}])('never prints a bare "undefined" (%o)', (error) => {
    const line = describeStartupError(error);
    expect(line).not.toBe('undefined');
    expect(line.length).toBeGreaterThan(10);
  });

  it('falls back to the code, the class and the cause', () => {
    expect(describeStartupError(Object.assign(new Error(''), { code: 'EACCES' }))).toBe('EACCES');
    class LockError extends Error {
      override name = 'LockError';
    }
    expect(describeStartupError(new LockError(''))).toMatch(/^LockError/);
    expect(describeStartupError(new Error('', { cause: new Error('disk full') }))).toBe('caused by: disk full');
    expect(describeStartupError(new Error('migration failed', { cause: new Error('disk full') }))).toBe('migration failed: caused by: disk full');
  });

  it('opens an AggregateError without a message', () => {
    const error = new AggregateError([new Error('connect ECONNREFUSED ::1:5432'), new Error('connect ECONNREFUSED 127.0.0.1:5432')], '');
    expect(describeStartupError(error)).toBe('connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432');
  });
});
