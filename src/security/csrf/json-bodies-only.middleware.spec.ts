import { describe, expect, it } from 'vitest';
import { fakeRequest, fakeResponse } from '../../../test/support/express-fakes.js';
import { UnsupportedMediaTypeException } from './csrf.exceptions.js';
import { jsonBodiesOnly } from './json-bodies-only.middleware.js';

function verdict(url: string, headers: Record<string, string>): unknown {
  let outcome: unknown = 'not called';
  jsonBodiesOnly(fakeRequest({ method: 'POST', url, headers }), fakeResponse(), (error?: unknown) => (outcome = error));
  return outcome;
}

describe(jsonBodiesOnly.name, () => {
  it('refuses text/plain, form-encoded, multipart and untyped bodies on JSON endpoints', () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx']) {
      expect(verdict('/api/lots/1/notes', { 'content-type': type, 'content-length': '10' }), type).toBeInstanceOf(UnsupportedMediaTypeException);
    }
    expect(verdict('/api/lots/1/notes', { 'content-length': '10' })).toBeInstanceOf(UnsupportedMediaTypeException);
    expect(verdict('/API/lots/1/notes', { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' })).toBeInstanceOf(UnsupportedMediaTypeException);
    expect(verdict('/admin/api/worker/restart', { 'content-type': 'text/plain', 'content-length': '10' })).toBeInstanceOf(UnsupportedMediaTypeException);
  });

  it('accepts JSON, bodiless requests and form posts to HTML endpoints', () => {
    expect(verdict('/api/lots/1/notes', { 'content-type': 'application/json; charset=utf-8', 'content-length': '10' })).toBeUndefined();
    expect(verdict('/api/auth/logout', { 'content-type': 'text/plain', 'content-length': '0' })).toBeUndefined();
    expect(verdict('/api/auth/logout', {})).toBeUndefined();
    expect(verdict('/login', { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '10' })).toBeUndefined();
    expect(verdict('/admin/worker/restart', { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '10' })).toBeUndefined();
  });
});
