import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { compileTrustedProxies } from '../ip/trusted-proxies.js';
import { allowedHostsMiddleware, hostServed } from './allowed-hosts.js';
import { MisdirectedHostException } from './misdirected-host.exception.js';

const allowed = new Set(['localhost', 'dash.example.com']);

describe(hostServed.name, () => {
  it('serves listed names with or without a port, in any case, with a trailing dot', () => {
    for (const host of ['localhost', 'localhost:3000', 'LOCALHOST:3000', 'dash.example.com', 'dash.example.com.:443']) {
      expect(hostServed(host, allowed), host).toBe(true);
    }
  });

  it('always serves IP literals: IPv4 and bracketed IPv6, with or without a port', () => {
    for (const host of ['127.0.0.1', '127.0.0.1:3000', '10.1.2.3:3000', '[::1]', '[::1]:3000', '[fd00::1]:8080']) {
      expect(hostServed(host, allowed), host).toBe(true);
    }
  });

  it('refuses other names, look-alikes, odd IP spellings and malformed values', () => {
    for (const host of [
      undefined,
      '',
      'rebind.evil.example',
      'rebind.evil.example:3000',
      'localhost.evil.example',
      'evil-localhost',
      'example.com',
      '127.1',
      '0x7f.0.0.1',
      '127.0.0.1.evil.example',
      '::1',
      '[not-an-ip]',
      '[::1]:x',
      'localhost:3000:1',
      'user@localhost',
    ]) {
      expect(hostServed(host, allowed), String(host)).toBe(false);
    }
  });
});

describe(allowedHostsMiddleware.name, () => {
  const trust = compileTrustedProxies(['loopback']);
  const run = (headers: Record<string, string>, peer: string) => {
    let result: unknown = 'not called';
    const req = { headers, socket: { remoteAddress: peer } } as unknown as IncomingMessage;
    allowedHostsMiddleware(['localhost'], trust)(req, {} as ServerResponse, (error) => {
      result = error;
    });
    return result;
  };

  it('passes a served Host and refuses any other with VALIDATION_FAILED', () => {
    expect(run({ host: 'localhost:3000' }, '127.0.0.1')).toBeUndefined();
    expect(run({ host: 'rebind.evil.example:3000' }, '127.0.0.1')).toBeInstanceOf(MisdirectedHostException);
    expect(run({}, '127.0.0.1')).toBeInstanceOf(MisdirectedHostException);
  });

  it('checks X-Forwarded-Host from a trusted proxy, every entry, and ignores it from anyone else', () => {
    expect(run({ host: '127.0.0.1:3000', 'x-forwarded-host': 'localhost' }, '127.0.0.1')).toBeUndefined();
    expect(run({ host: '127.0.0.1:3000', 'x-forwarded-host': 'rebind.evil.example' }, '::ffff:127.0.0.1')).toBeInstanceOf(MisdirectedHostException);
    expect(run({ host: '127.0.0.1:3000', 'x-forwarded-host': 'localhost, rebind.evil.example' }, '127.0.0.1')).toBeInstanceOf(MisdirectedHostException);
    expect(run({ host: '127.0.0.1:3000', 'x-forwarded-host': 'rebind.evil.example' }, '203.0.113.9')).toBeUndefined();
  });
});
