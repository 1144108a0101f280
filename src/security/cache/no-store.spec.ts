import type { Response } from 'express';
import { describe, expect, it } from 'vitest';
import { fakeRequest, fakeResponse } from '../../../test/support/express-fakes.js';
import { sessionCacheHeaders } from './no-store.js';

const headersFor = (url: string) => {
  const res = fakeResponse();
  let called = false;
  sessionCacheHeaders(fakeRequest({ url }), res as unknown as Response, () => {
    called = true;
  });
  expect(called).toBe(true);
  return res.headersSet;
};

describe(sessionCacheHeaders.name, () => {
  it('marks session-bearing paths no-store and Vary: Cookie, whatever their spelling', () => {
    for (const url of ['/api/lots', '/API/lots/?limit=5', 'http://any.example/api/lots', '/api/auth/me', '/admin', '/admin/api/audit', '/login', '/api/docs', '/api/docs-json']) {
      expect(headersFor(url), url).toEqual({ 'cache-control': 'no-store', vary: 'Cookie' });
    }
  });

  it('leaves health, metrics and static assets alone', () => {
    for (const url of ['/health/live', '/metrics', '/assets/swagger-ui/swagger-ui-bundle.js', '/csp-report', '/']) {
      expect(headersFor(url), url).toEqual({});
    }
  });
});
