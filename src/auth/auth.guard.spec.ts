import { Controller, Get, Post } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { Test } from '@nestjs/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { ForbiddenException, UnauthenticatedException } from '../core/errors/index.js';
import type { Role } from '../database/entities/index.js';
import { fakeRequest } from '../../test/support/express-fakes.js';
import { AllowedBeforePasswordChange, type AuthenticatedUser, Public, RequireRole } from './auth.decorators.js';
import { AuthGuard, PasswordChangeRequiredException } from './auth.guard.js';

@Controller('api/things')
class ThingsController {
  @Get() list() {}
  @Post() @RequireRole('operator') write() {}
  @Public() @Get('open') open() {}
  @AllowedBeforePasswordChange() @Post('password') password() {}
}

@Controller('admin')
class AdminController {
  @Get() page() {}
  @Get('viewer-ok') @RequireRole('viewer') lowered() {}
}

@Controller('health')
class HealthController {
  @Get() health() {}
}

const user = (role: Role): AuthenticatedUser => ({ id: 7, username: role, role });

describe(AuthGuard.name, () => {
  let guard: AuthGuard;

  beforeAll(async () => {
    const module = await Test.createTestingModule({
      providers: [AuthGuard],
    }).compile();
    guard = module.get(AuthGuard);
  });

  function check(controller: object, handler: string, routePath: string, who?: AuthenticatedUser, requestPath = routePath, mustChangePassword = false): boolean {
    const req = fakeRequest({ url: requestPath, session: mustChangePassword ? { mustChangePassword: true, user: who } : { user: who } });
    Object.assign(req, { route: { path: routePath }, user: who });
    const target = (controller as { prototype: Record<string, () => void> }).prototype[handler]!;
    return guard.canActivate(new ExecutionContextHost([req, {}, () => {}], controller as never, target));
  }

  it('needs a session on /api routes unless @Public()', () => {
    expect(() => check(ThingsController, 'list', '/api/things')).toThrow(UnauthenticatedException);
    expect(check(ThingsController, 'open', '/api/things/open')).toBe(true);
    expect(check(ThingsController, 'list', '/api/things', user('viewer'))).toBe(true);
  });

  it('enforces @RequireRole with roles ordered viewer < operator < admin', () => {
    expect(() => check(ThingsController, 'write', '/api/things', user('viewer'))).toThrow(ForbiddenException);
    expect(check(ThingsController, 'write', '/api/things', user('operator'))).toBe(true);
    expect(check(ThingsController, 'write', '/api/things', user('admin'))).toBe(true);
  });

  it('needs admin under /admin, even where a lower role is declared', () => {
    expect(() => check(AdminController, 'page', '/admin')).toThrow(UnauthenticatedException);
    expect(() => check(AdminController, 'page', '/admin', user('operator'))).toThrow(ForbiddenException);
    expect(() => check(AdminController, 'lowered', '/admin/viewer-ok', user('viewer'))).toThrow(ForbiddenException);
    expect(check(AdminController, 'page', '/admin', user('admin'))).toBe(true);
  });

  it('decides on the route template, not on how the path was spelled', () => {
    expect(() => check(ThingsController, 'list', '/api/things', undefined, '/API/Things/')).toThrow(UnauthenticatedException);
  });

  it('holds a one-time-password session to the routes allowed before the password change (FORBIDDEN with a detail)', () => {
    expect(() => check(ThingsController, 'list', '/api/things', user('admin'), '/api/things', true)).toThrow(PasswordChangeRequiredException);
    expect(() => check(AdminController, 'page', '/admin', user('admin'), '/admin', true)).toThrow(PasswordChangeRequiredException);
    expect(check(ThingsController, 'password', '/api/things/password', user('viewer'), '/api/things/password', true)).toBe(true);
    expect(check(ThingsController, 'open', '/api/things/open', undefined, '/api/things/open', true)).toBe(true);
    const refusal = new PasswordChangeRequiredException();
    expect(refusal.code).toBe('FORBIDDEN');
    expect(refusal.details).toEqual([{ path: 'session', message: 'password change required' }]);
  });

  it('leaves routes outside /api and /admin alone', () => {
    expect(check(HealthController, 'health', '/health')).toBe(true);
  });
});
