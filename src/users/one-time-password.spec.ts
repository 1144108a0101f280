import { describe, expect, it } from 'vitest';
import { generateOneTimePassword, OneTimePasswordSeal } from './one-time-password.js';
import { passwordPolicyViolations } from './password-policy.js';

describe(OneTimePasswordSeal.name, () => {
  it('opens what it sealed, and the sealed text does not contain the password', () => {
    const seal = new OneTimePasswordSeal('a'.repeat(40));
    const password = generateOneTimePassword();
    const sealed = seal.seal(password);
    expect(sealed).not.toContain(password);
    expect(seal.open(sealed)).toBe(password);
  });

  it('cannot open it with another secret, nor a tampered value', () => {
    const sealed = new OneTimePasswordSeal('a'.repeat(40)).seal('one-time-secret');
    expect(new OneTimePasswordSeal('b'.repeat(40)).open(sealed)).toBeNull();
    const parts = sealed.split('.');
    parts[3] = Buffer.from('tampered!!').toString('base64url');
    expect(new OneTimePasswordSeal('a'.repeat(40)).open(parts.join('.'))).toBeNull();
    expect(new OneTimePasswordSeal('a'.repeat(40)).open('plain')).toBeNull();
  });

  it('generates passwords the policy accepts, each different', () => {
    const a = generateOneTimePassword();
    expect(passwordPolicyViolations(a, 'someone')).toEqual([]);
    expect(generateOneTimePassword()).not.toBe(a);
  });
});
