import { describe, expect, it } from 'vitest';
import { REDACTED, redactDeep, redactError, redactString } from './redact.js';

describe(redactString.name, () => {
  it.each([
    ['postgres://app:s3cret@db:5432/x', 'postgres://app:[REDACTED]@db:5432/x'],
    ['postgresql://app:s3cret@db/x', 'postgresql://app:[REDACTED]@db/x'],
    ['redis://:s3cret@cache:6379/0', 'redis://:[REDACTED]@cache:6379/0'],
    ['rediss://default:s3cret@cache:6380', 'rediss://default:[REDACTED]@cache:6380'],
    ['failed to reach postgres://u:p%40ss@h/d after 3 tries', 'failed to reach postgres://u:[REDACTED]@h/d after 3 tries'],
    ['host=db password=s3cret user=app', 'host=db password=[REDACTED] user=app'],
  ])('removes the credential from %s', (input, expected) => {
    expect(redactString(input)).toBe(expected);
  });

  it('leaves URLs without credentials and ordinary text alone', () => {
    expect(redactString('postgres://db:5432/x')).toBe('postgres://db:5432/x');
    expect(redactString('GET /api/lots 200')).toBe('GET /api/lots 200');
  });
});

describe(redactDeep.name, () => {
  it('masks secret-named fields and scrubs nested strings', () => {
    const out = redactDeep({
      password: 'pw',
      nested: { cookie: 'sid=abc', list: ['redis://:pw2@r:1'], ok: 1 },
      headers: { 'x-csrf-token': 'tok', authorization: 'Bearer t' },
    }) as Record<string, Record<string, unknown>>;
    expect(out.password).toBe(REDACTED);
    expect(out.nested!.cookie).toBe(REDACTED);
    expect(out.nested!.list).toEqual([`redis://:${REDACTED}@r:1`]);
    expect(out.nested!.ok).toBe(1);
    expect(out.headers!['x-csrf-token']).toBe(REDACTED);
    expect(out.headers!.authorization).toBe(REDACTED);
  });
});

describe(redactError.name, () => {
  it('scrubs message, stack and cause of an error', () => {
    const cause = new Error('inner postgres://a:innerpw@h/d');
    const error = new Error('outer redis://:outerpw@h:1', { cause });
    const out = JSON.stringify(redactError(error));
    expect(out).not.toContain('innerpw');
    expect(out).not.toContain('outerpw');
    expect(out).toContain(REDACTED);
  });
});

describe('redactDeep on values that need nothing', () => {
  it('returns the very same object, allocating no copy', () => {
    const line = { req: { method: 'GET', url: '/api/lots' }, res: { statusCode: 200 }, tags: ['a', 'b'] };
    expect(redactDeep(line)).toBe(line);
  });

  it('leaves class instances to their serializers', () => {
    class Response {
      secret = 'postgres://u:pw@h/d';
    }
    const response = new Response();
    expect(redactDeep({ res: response }) as { res: Response }).toEqual({ res: response });
  });
});
