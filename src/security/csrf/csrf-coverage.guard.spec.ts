import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { describe, expect, it } from 'vitest';
import { fakeRequest } from '../../../test/support/express-fakes.js';
import { deferCsrfRefusal, markCsrfChecked } from './csrf-checked.js';
import { CsrfCoverageGuard } from './csrf-coverage.guard.js';
import { CsrfInvalidException } from './csrf.exceptions.js';

function check(method: string, url: string, routePath: string, checked = false, deferred = false): boolean {
  const req = fakeRequest({ method, url });
  Object.assign(req, { route: { path: routePath } });
  if (checked) markCsrfChecked(req);
  if (deferred) deferCsrfRefusal(req);
  return new CsrfCoverageGuard().canActivate(new ExecutionContextHost([req, {}, () => {}]));
}

describe(CsrfCoverageGuard.name, () => {
  it('refuses a state-changing request on a session route that the CSRF middleware never judged', () => {
    expect(() => check('POST', '//api/lots/1/notes', '/api/lots/:id/notes')).toThrow(CsrfInvalidException);
    expect(() => check('DELETE', '/login', '/login')).toThrow(CsrfInvalidException);
  });

  it('lets judged requests, safe methods and session-less routes through', () => {
    expect(check('POST', '/api/lots/1/notes', '/api/lots/:id/notes', true)).toBe(true);
    expect(check('GET', '/api/lots', '/api/lots')).toBe(true);
    expect(check('POST', '/csp-report', '/csp-report')).toBe(true);
  });

  it('answers the refusal the middleware deferred, on whatever route the access guard let through', () => {
    expect(() => check('POST', '/api/auth/login', '/api/auth/login', true, true)).toThrow(CsrfInvalidException);
    expect(() => check('POST', '/login', '/login', true, true)).toThrow(CsrfInvalidException);
  });
});
