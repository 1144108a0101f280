import { createHmac } from 'node:crypto';
import type { ConfigService } from '@nestjs/config';
import { describe, expect, it } from 'vitest';
import type { RampartConfig } from '../../config/rampart-config.js';
import { SessionCookie } from './session-cookie.js';

const SECRET = 'a-long-enough-session-secret-for-tests-0123456789';

function cookieFor(isProduction: boolean, secret = SECRET): SessionCookie {
  const values = { app: { isProduction }, security: { sessionSecret: secret } };
  return new SessionCookie({ get: (key: keyof typeof values) => values[key] } as unknown as ConfigService<RampartConfig, true>);
}

/** The value express-session wrote for an id (the format sessions of the last release carry). */
const legacyValue = (id: string, secret = SECRET) =>
  encodeURIComponent(`s:${id}.${createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '')}`);

describe(SessionCookie.name, () => {
  it('reads the id of a cookie signed with the secret, express-session format included', () => {
    const cookie = cookieFor(false);
    expect(cookie.idFrom(`theme=dark; sid=${legacyValue('abc123')}; other=1`)).toBe('abc123');
  });

  it('answers a repeated header from memory, and still tells headers that differ apart', () => {
    const cookie = cookieFor(false);
    const header = `theme=dark; sid=${legacyValue('abc123')}`;
    expect(cookie.idFrom(header)).toBe('abc123');
    expect(cookie.idFrom(header)).toBe('abc123');
    expect(cookie.idFrom(`theme=light; sid=${legacyValue('abc124')}`)).toBe('abc124');
    expect(cookie.idFrom(`theme=dark; sid=${legacyValue('abc123', 'another-secret-that-an-attacker-guessed-000')}`)).toBeNull();
  });

  it('tells a request that carries the cookie at all, valid or not, from one that carries none', () => {
    const cookie = cookieFor(false);
    expect(cookie.carriedBy(`theme=dark; sid=${legacyValue('abc123')}`)).toBe(true);
    expect(cookie.carriedBy('sid=garbage')).toBe(true);
    for (const header of [undefined, '', 'other=1', 'sidx=1', 'theme=sid']) expect(cookie.carriedBy(header), String(header)).toBe(false);
  });

  it('ignores absent, unsigned, forged and truncated cookies', () => {
    const cookie = cookieFor(false);
    const valid = legacyValue('abc123');
    for (const header of [
      undefined,
      '',
      'other=1',
      'sid=abc123',
      `sid=${legacyValue('abc123', 'another-secret-that-an-attacker-guessed-000')}`,
      `sid=${legacyValue('abc124').replace('abc124', 'abc123')}`,
      `sid=${valid.slice(0, -2)}`,
      'sid=s%3A.sig',
      // The production name only: `sid` is not `__Host-sid`.
      `sidx=${valid}`,
    ]) {
      expect(cookie.idFrom(header), String(header)).toBeNull();
    }
    expect(cookieFor(true).idFrom(`sid=${valid}`)).toBeNull();
    expect(cookieFor(true).idFrom(`__Host-sid=${valid}`)).toBe('abc123');
  });

  it('makes unguessable ids', () => {
    const cookie = cookieFor(false);
    const ids = new Set(Array.from({ length: 1000 }, () => cookie.newId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });
});
