import { describe, expect, it } from 'vitest';
import { fakeRequest } from '../../../test/support/express-fakes.js';
import { crossSiteReason, expectedOrigin } from './request-origin.js';

const request = (headers: Record<string, string>) => fakeRequest({ method: 'POST', headers: { host: 'app.example:3000', ...headers } });
const from = (headers: Record<string, string>, publicOrigin: string | null = null) => crossSiteReason(request(headers), publicOrigin);

describe(crossSiteReason.name, () => {
  it('lets same-origin and header-less requests through', () => {
    expect(from({})).toBeNull();
    expect(from({ origin: 'http://app.example:3000' })).toBeNull();
    expect(from({ origin: 'http://APP.example:3000', 'sec-fetch-site': 'same-origin' })).toBeNull();
    expect(from({ referer: 'http://app.example:3000/login?next=1' })).toBeNull();
    expect(from({ 'sec-fetch-site': 'same-site' })).toBeNull();
    expect(from({ 'sec-fetch-site': 'none' })).toBeNull();
  });

  it('refuses Sec-Fetch-Site cross-site whatever the Origin says', () => {
    expect(from({ 'sec-fetch-site': 'cross-site' })).toMatch(/cross-site/);
    expect(from({ 'sec-fetch-site': 'Cross-Site', origin: 'http://app.example:3000' })).toMatch(/cross-site/);
  });

  it('refuses foreign, look-alike, other-port, opaque and malformed origins', () => {
    expect(from({ origin: 'https://evil.example' })).toMatch(/foreign/);
    expect(from({ origin: 'http://app.example.evil.example:3000' })).toMatch(/foreign/);
    expect(from({ origin: 'http://app.example:3001' })).toMatch(/foreign/);
    expect(from({ origin: 'http://app.example' })).toMatch(/foreign/);
    expect(from({ origin: 'null' })).toMatch(/opaque/);
    expect(from({ origin: 'not a url' })).toMatch(/malformed/);
  });

  it('compares the scheme: https:// and ws:// with the right host and port are foreign to an http service', () => {
    expect(from({ origin: 'https://app.example:3000' })).toMatch(/foreign/);
    expect(from({ origin: 'ws://app.example:3000' })).toMatch(/foreign/);
    expect(from({ origin: 'wss://app.example:3000' })).toMatch(/foreign/);
  });

  it('judges a Referer like an Origin when no Origin is sent', () => {
    expect(from({ referer: 'https://evil.example/page' })).toMatch(/Referer is foreign/);
    expect(from({ referer: 'https://app.example:3000/login' })).toMatch(/Referer is foreign/);
    expect(from({ referer: 'about:blank' })).toMatch(/Referer is malformed/);
    // With an Origin present, the Origin decides.
    expect(from({ origin: 'http://app.example:3000', referer: 'https://evil.example/' })).toBeNull();
  });

  it('ignores X-Forwarded-Host and X-Forwarded-Proto from a peer that is not a trusted proxy', () => {
    expect(from({ origin: 'https://evil.example', 'x-forwarded-host': 'evil.example' })).toMatch(/foreign/);
    expect(from({ origin: 'https://app.example:3000', 'x-forwarded-proto': 'https' })).toMatch(/foreign/);
  });

  it('with PUBLIC_ORIGIN, only that origin is accepted, whatever the Host says', () => {
    const configured = 'https://dash.example.com';
    expect(from({ origin: 'https://dash.example.com' }, configured)).toBeNull();
    expect(from({ referer: 'https://dash.example.com/admin' }, configured)).toBeNull();
    expect(from({ origin: 'http://dash.example.com' }, configured)).toMatch(/foreign/);
    expect(from({ origin: 'https://dash.example.com:8443' }, configured)).toMatch(/foreign/);
    expect(from({ origin: 'http://app.example:3000' }, configured)).toMatch(/foreign/);
  });
});

describe(expectedOrigin.name, () => {
  it('is PUBLIC_ORIGIN when set, otherwise the request scheme and Host', () => {
    expect(expectedOrigin(request({}), 'https://dash.example.com')).toBe('https://dash.example.com');
    expect(expectedOrigin(request({}), null)).toBe('http://app.example:3000');
    expect(expectedOrigin(fakeRequest({ headers: { host: 'App.Example:80' } }), null)).toBe('http://app.example');
  });
});
