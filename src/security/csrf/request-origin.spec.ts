import { describe, expect, it } from 'vitest';
import { fakeRequest } from '../../../test/support/express-fakes.js';
import { crossSiteReason } from './request-origin.js';

const from = (headers: Record<string, string>) => crossSiteReason(fakeRequest({ method: 'POST', headers: { host: 'app.example:3000', ...headers } }));

describe(crossSiteReason.name, () => {
  it('lets same-origin and header-less requests through', () => {
    expect(from({})).toBeNull();
    expect(from({ origin: 'http://app.example:3000' })).toBeNull();
    expect(from({ origin: 'https://APP.example:3000', 'sec-fetch-site': 'same-origin' })).toBeNull();
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

  it('ignores X-Forwarded-Host from a peer that is not a trusted proxy', () => {
    expect(from({ origin: 'https://evil.example', 'x-forwarded-host': 'evil.example' })).toMatch(/foreign/);
  });
});
