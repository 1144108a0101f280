import { describe, expect, it } from 'vitest';
import { bearerMatches, isTrustedPeer, metricsAccessAllowed } from './trusted-peer.js';
import { compileTrustedProxies } from './trusted-proxies.js';

const none = compileTrustedProxies(['none']);
const privateNet = compileTrustedProxies(['10.0.0.0/8']);
const TOKEN = 'metrics-token-0123456789abcdef';

describe(isTrustedPeer.name, () => {
  it('lets loopback in even when TRUSTED_PROXIES does not list it', () => {
    expect(isTrustedPeer({ peer: '127.0.0.1', forwardedFor: undefined }, none)).toBe(true);
    expect(isTrustedPeer({ peer: '::1', forwardedFor: undefined }, none)).toBe(true);
    expect(isTrustedPeer({ peer: '::ffff:127.0.0.1', forwardedFor: undefined }, none)).toBe(true);
  });

  it('lets trusted proxies in and keeps everyone else out', () => {
    expect(isTrustedPeer({ peer: '10.3.4.5', forwardedFor: undefined }, privateNet)).toBe(true);
    expect(isTrustedPeer({ peer: '203.0.113.1', forwardedFor: undefined }, privateNet)).toBe(false);
  });

  it('refuses a request a trusted proxy forwarded for an outside client', () => {
    expect(isTrustedPeer({ peer: '10.0.0.1', forwardedFor: '203.0.113.1' }, privateNet)).toBe(false);
    expect(isTrustedPeer({ peer: '10.0.0.1', forwardedFor: '10.0.0.2, 203.0.113.1' }, privateNet)).toBe(false);
    expect(isTrustedPeer({ peer: '10.0.0.1', forwardedFor: '10.0.0.2, 10.9.9.9' }, privateNet)).toBe(true);
  });

  it('refuses a malformed forwarded entry', () => {
    expect(isTrustedPeer({ peer: '127.0.0.1', forwardedFor: 'localhost' }, none)).toBe(false);
  });
});

describe(bearerMatches.name, () => {
  it('matches only the exact token in a Bearer header', () => {
    expect(bearerMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`Bearer ${TOKEN}x`, TOKEN)).toBe(false);
    expect(bearerMatches(`Bearer ${TOKEN.slice(1)}`, TOKEN)).toBe(false);
    expect(bearerMatches(`Basic ${TOKEN}`, TOKEN)).toBe(false);
    expect(bearerMatches(undefined, TOKEN)).toBe(false);
  });

  it('matches nothing when no token is configured', () => {
    expect(bearerMatches('Bearer anything', null)).toBe(false);
  });
});

describe(metricsAccessAllowed.name, () => {
  it('allows a trusted peer or the bearer token, and nothing else', () => {
    const policy = { trust: privateNet, token: TOKEN };
    expect(metricsAccessAllowed({ peer: '10.0.0.1', forwardedFor: undefined, authorization: undefined }, policy)).toBe(true);
    expect(metricsAccessAllowed({ peer: '203.0.113.1', forwardedFor: undefined, authorization: `Bearer ${TOKEN}` }, policy)).toBe(true);
    expect(metricsAccessAllowed({ peer: '203.0.113.1', forwardedFor: undefined, authorization: 'Bearer wrong' }, policy)).toBe(false);
    expect(metricsAccessAllowed({ peer: '203.0.113.1', forwardedFor: '127.0.0.1', authorization: undefined }, policy)).toBe(false);
  });
});
