import type { ConfigService } from '@nestjs/config';
import type { Request } from 'express';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { EnforceMode, RampartConfig } from '../../config/rampart-config.js';
import { fakeRequest, fakeResponse } from '../../../test/support/express-fakes.js';
import { attachSession } from '../session/request-session.js';
import { isCsrfRefusalDeferred, wasCsrfChecked } from './csrf-checked.js';
import { CsrfInvalidException } from './csrf.exceptions.js';
import { CsrfMiddleware } from './csrf.middleware.js';
import { CsrfTokens } from './csrf-tokens.js';

const TOKEN = 'a'.repeat(64);

function middleware(mode: EnforceMode, lines: Record<string, unknown>[] = []) {
  const config = { get: () => ({ csrfMode: mode }) } as unknown as ConfigService<RampartConfig, true>;
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return new CsrfMiddleware(new CsrfTokens(), config, logger);
}

function run(mw: CsrfMiddleware, req: Request) {
  const res = fakeResponse();
  let outcome: unknown = 'not called';
  mw.handle(req, res, (error?: unknown) => (outcome = error));
  return { outcome, res };
}

const post = (headers: Record<string, string> = {}, url = '/api/lots/1/notes', method = 'POST') =>
  fakeRequest({ method, url, headers: { host: 'app.example', ...headers }, session: { csrfToken: TOKEN } });

describe(CsrfMiddleware.name, () => {
  const enforce = middleware('enforce');

  it('passes safe methods and paths without sessions untouched', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS']) expect(run(enforce, post({}, '/api/lots', method)).outcome).toBeUndefined();
    const report = post({}, '/csp-report');
    expect(run(enforce, report).outcome).toBeUndefined();
    expect(wasCsrfChecked(report)).toBe(false);
  });

  it('needs the token on every other method, spelled however the path is', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'PROPFIND']) {
      expect(run(enforce, post({}, '/api/lots/1/notes', method)).outcome, method).toBeInstanceOf(CsrfInvalidException);
    }
    expect(run(enforce, post({}, '/API/Lots/1/notes/')).outcome).toBeInstanceOf(CsrfInvalidException);
    expect(run(enforce, post({}, '/login')).outcome).toBeInstanceOf(CsrfInvalidException);
    const ok = post({ 'x-csrf-token': TOKEN });
    expect(run(enforce, ok).outcome).toBeUndefined();
    expect(wasCsrfChecked(ok)).toBe(true);
  });

  it('judges the method on the wire: override headers and _method change nothing', () => {
    const overridden = post({ 'x-http-method-override': 'GET', 'x-method-override': 'GET' }, '/api/lots/1/notes?_method=GET');
    expect(run(enforce, overridden).outcome).toBeInstanceOf(CsrfInvalidException);
  });

  it('refuses a valid token from another site', () => {
    expect(run(enforce, post({ 'x-csrf-token': TOKEN, 'sec-fetch-site': 'cross-site' })).outcome).toBeInstanceOf(CsrfInvalidException);
    expect(run(enforce, post({ 'x-csrf-token': TOKEN, origin: 'https://evil.example' })).outcome).toBeInstanceOf(CsrfInvalidException);
  });

  it('leaves the refusal of a request whose session is gone to the guards, so a 401 can come first', () => {
    const lost = post({ 'x-csrf-token': TOKEN });
    attachSession(lost, {}, null, true);
    expect(run(enforce, lost).outcome).toBeUndefined();
    expect(wasCsrfChecked(lost)).toBe(true);
    expect(isCsrfRefusalDeferred(lost)).toBe(true);
  });

  it('refuses at once when the session is live, or when there was no cookie at all', () => {
    const live = post({ 'x-csrf-token': 'b'.repeat(64) });
    attachSession(live, { createdAt: 1, csrfToken: TOKEN }, 'sid-1');
    expect(run(enforce, live).outcome).toBeInstanceOf(CsrfInvalidException);
    expect(isCsrfRefusalDeferred(live)).toBe(false);
    const none = post();
    attachSession(none, {}, null, false);
    expect(run(enforce, none).outcome).toBeInstanceOf(CsrfInvalidException);
    // A lost session with a request that passes the check defers nothing.
    const passing = post({ 'x-csrf-token': TOKEN });
    attachSession(passing, { createdAt: 1, csrfToken: TOKEN }, null, true);
    expect(run(enforce, passing).outcome).toBeUndefined();
    expect(isCsrfRefusalDeferred(passing)).toBe(false);
  });

  it('in report-only mode lets the request through, flags it and logs the path and reason', () => {
    const lines: Record<string, unknown>[] = [];
    const { outcome, res } = run(middleware('report-only', lines), post({}, '/api/lots/1/notes?secret=1'));
    expect(outcome).toBeUndefined();
    expect(res.headersSet['x-csrf-would-block']).toBe('1');
    expect(lines).toEqual([
      expect.objectContaining({ level: 40, method: 'POST', path: '/api/lots/1/notes', reason: 'missing or invalid CSRF token' }),
    ]);
    const passing = run(middleware('report-only'), post({ 'x-csrf-token': TOKEN }));
    expect(passing.res.headersSet['x-csrf-would-block']).toBeUndefined();
  });
});
