import { describe, expect, it } from 'vitest';
import { fakeRequest } from '../../../test/support/express-fakes.js';
import { constantTimeEqual, CsrfTokens } from './csrf-tokens.js';

const TOKEN = 'f'.repeat(64);

describe(CsrfTokens.name, () => {
  const tokens = new CsrfTokens();
  const post = (init: Parameters<typeof fakeRequest>[0]) => fakeRequest({ method: 'POST', session: { csrfToken: TOKEN }, ...init });

  it('issues one token per session and keeps it', () => {
    const session: Record<string, unknown> = {};
    const req = fakeRequest({ session });
    const first = tokens.tokenFor(req);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(session.csrfToken).toBe(first);
    expect(tokens.tokenFor(req)).toBe(first);
    expect(tokens.tokenFor(fakeRequest({ session: {} }))).not.toBe(first);
  });

  it('accepts the token from the X-CSRF-Token header', () => {
    expect(tokens.verify(post({ headers: { 'x-csrf-token': TOKEN } }))).toBe(true);
  });

  it('accepts the token from the _csrf field of a form-encoded body', () => {
    const req = post({ headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '70' }, body: { _csrf: TOKEN } });
    expect(tokens.verify(req)).toBe(true);
  });

  it('ignores the query string, JSON bodies and repeated form fields', () => {
    expect(tokens.verify(post({ url: `/api/x?_csrf=${TOKEN}&csrfToken=${TOKEN}` }))).toBe(false);
    const json = post({ headers: { 'content-type': 'application/json', 'content-length': '70' }, body: { _csrf: TOKEN } });
    expect(tokens.verify(json)).toBe(false);
    const repeated = post({ headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '140' }, body: { _csrf: [TOKEN, TOKEN] } });
    expect(tokens.verify(repeated)).toBe(false);
  });

  it('refuses a wrong, truncated or empty token, and any token without a session token', () => {
    expect(tokens.verify(post({ headers: { 'x-csrf-token': 'e'.repeat(64) } }))).toBe(false);
    expect(tokens.verify(post({ headers: { 'x-csrf-token': TOKEN.slice(0, 63) } }))).toBe(false);
    expect(tokens.verify(post({ headers: { 'x-csrf-token': '' } }))).toBe(false);
    expect(tokens.verify(fakeRequest({ method: 'POST', session: {}, headers: { 'x-csrf-token': TOKEN } }))).toBe(false);
    expect(tokens.verify(fakeRequest({ method: 'POST', session: { csrfToken: '' }, headers: { 'x-csrf-token': '' } }))).toBe(false);
    expect(tokens.verify(fakeRequest({ method: 'POST', headers: { 'x-csrf-token': TOKEN } }))).toBe(false);
  });
});

describe(constantTimeEqual.name, () => {
  it('compares strings of any lengths without throwing', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', 'x')).toBe(false);
  });
});
