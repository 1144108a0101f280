import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/env.js';
import { MAX_FORWARDED_HOPS, normalizeAddress, resolveClientIp } from './client-ip.js';
import { compileTrustedProxies, trustedProxiesProblem } from './trusted-proxies.js';

const loopback = compileTrustedProxies(['loopback']);
const privateNet = compileTrustedProxies(['10.0.0.0/8']);

describe(normalizeAddress.name, () => {
  it('maps IPv4-mapped IPv6 to plain IPv4 in every spelling', () => {
    expect(normalizeAddress('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(normalizeAddress('::FFFF:1.2.3.4')).toBe('1.2.3.4');
    expect(normalizeAddress('::ffff:102:304')).toBe('1.2.3.4');
    expect(normalizeAddress('0:0:0:0:0:ffff:0102:0304')).toBe('1.2.3.4');
  });

  it('canonicalises IPv6 and drops brackets, ports and zone ids', () => {
    expect(normalizeAddress('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(normalizeAddress('[2001:db8::1]:443')).toBe('2001:db8::1');
    expect(normalizeAddress('fe80::1%eth0')).toBe('fe80::1');
    expect(normalizeAddress(' 1.2.3.4:8080 ')).toBe('1.2.3.4');
  });

  it('rejects anything that is not a strict address literal', () => {
    for (const bad of ['', 'unknown', '127.1', '0x7f.0.0.1', '2130706433', '1.2.3.4.5', '<script>', 'a'.repeat(100), '999.1.1.1', undefined]) {
      expect(normalizeAddress(bad)).toBeNull();
    }
  });
});

describe(resolveClientIp.name, () => {
  it('uses the socket peer and ignores X-Forwarded-For when the peer is not trusted', () => {
    expect(resolveClientIp('127.0.0.1', '9.9.9.9', privateNet)).toBe('127.0.0.1');
    expect(resolveClientIp('203.0.113.7', '1.1.1.1, 2.2.2.2', loopback)).toBe('203.0.113.7');
  });

  it('takes the rightmost untrusted entry behind a trusted peer, never the leftmost', () => {
    expect(resolveClientIp('127.0.0.1', '1.1.1.1, 2.2.2.2', loopback)).toBe('2.2.2.2');
    expect(resolveClientIp('10.0.0.5', '6.6.6.6, 7.7.7.7, 10.1.2.3', privateNet)).toBe('7.7.7.7');
  });

  it('returns the leftmost hop when every hop is trusted, and the peer without a header', () => {
    expect(resolveClientIp('127.0.0.1', undefined, loopback)).toBe('127.0.0.1');
    expect(resolveClientIp('10.0.0.5', '10.0.0.9', privateNet)).toBe('10.0.0.9');
  });

  it('normalises ::ffff: addresses in the peer and in the header', () => {
    expect(resolveClientIp('::ffff:127.0.0.1', '::ffff:5.6.7.8', loopback)).toBe('5.6.7.8');
    expect(resolveClientIp('::ffff:203.0.113.9', undefined, loopback)).toBe('203.0.113.9');
  });

  it('stops at the last trusted hop on a malformed entry instead of keying on client-chosen text', () => {
    expect(resolveClientIp('127.0.0.1', 'evil-key-1', loopback)).toBe('127.0.0.1');
    expect(resolveClientIp('127.0.0.1', '1.1.1.1, <script>', loopback)).toBe('127.0.0.1');
    expect(resolveClientIp('10.0.0.5', '1.1.1.1, nonsense, 10.0.0.6', privateNet)).toBe('10.0.0.6');
  });

  it('walks repeated headers as one list and skips empty elements', () => {
    expect(resolveClientIp('127.0.0.1', ['1.1.1.1', '2.2.2.2'], loopback)).toBe('2.2.2.2');
    expect(resolveClientIp('127.0.0.1', '1.1.1.1,, 2.2.2.2 ,', loopback)).toBe('2.2.2.2');
    expect(resolveClientIp('127.0.0.1', ' , ', loopback)).toBe('127.0.0.1');
  });

  it('bounds the walk over a long chain of trusted entries', () => {
    const chain = Array.from({ length: MAX_FORWARDED_HOPS + 50 }, () => '127.0.0.1').join(',');
    expect(resolveClientIp('127.0.0.1', `6.6.6.6,${chain}`, loopback)).toBe('127.0.0.1');
  });

  it('answers "unknown" without a peer address (socket already gone)', () => {
    expect(resolveClientIp(undefined, '1.1.1.1', loopback)).toBe('unknown');
  });

  it('trusts no one with TRUSTED_PROXIES=none', () => {
    expect(resolveClientIp('127.0.0.1', '1.1.1.1', compileTrustedProxies(['none']))).toBe('127.0.0.1');
  });
});

describe(trustedProxiesProblem.name, () => {
  it('accepts addresses, CIDRs and the named ranges', () => {
    expect(trustedProxiesProblem(['loopback', '10.0.0.0/8', '::1', 'uniquelocal', 'none'])).toBeNull();
  });

  it('names the entry that is not an address', () => {
    expect(trustedProxiesProblem(['loopback', '10.0.0.0/33'])).toContain('10.0.0.0/33');
    expect(trustedProxiesProblem(['proxy.internal'])).toContain('proxy.internal');
  });

  it('stops the start (config error, exit 78) on a bad entry', () => {
    expect(() => loadConfig({ TRUSTED_PROXIES: 'loopback, 10.0.0.0/99' })).toThrow(ConfigError);
    expect(loadConfig({ TRUSTED_PROXIES: 'loopback, 10.0.0.0/8' }).config.security.trustedProxies).toEqual(['loopback', '10.0.0.0/8']);
  });
});
