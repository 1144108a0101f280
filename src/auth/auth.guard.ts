import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { AppException, ErrorCode, ForbiddenException, UnauthenticatedException } from '../core/errors/index.js';
import type { Role } from '../database/entities/index.js';
import { ALLOWED_BEFORE_PASSWORD_CHANGE, IS_PUBLIC, REQUIRED_ROLE } from './auth.decorators.js';
import { roleAllows } from './roles.js';
import './request-user.js';

/** A FORBIDDEN whose message and detail say what to do; the code stays the contract's. */
export class PasswordChangeRequiredException extends AppException {
  constructor() {
    super(ErrorCode.FORBIDDEN, 'You signed in with a one-time password: change it (POST /api/auth/password) before anything else', {
      details: [{ path: 'session', message: 'password change required' }],
    });
  }
}

const startsWithSegment = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}/`);

/**
 * Who may call what. Routes under `/api` need a session unless `@Public()`, and at least the
 * role of `@RequireRole()` (viewer otherwise); routes under `/admin` need `admin` unless
 * `@Public()`. Everything else (health, metrics, the login page) is not this guard's
 * business. Decided on the matched route template, so no spelling of the URL changes it.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<Request>();
    const template: unknown = req.route?.path;
    const path = (typeof template === 'string' ? template : req.path).toLowerCase();
    const admin = startsWithSegment(path, '/admin');
    if (!admin && !startsWithSegment(path, '/api')) return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;

    const user = req.user;
    // req.user (and userId on the request's logger) comes from the session middleware.
    if (user === undefined) throw new UnauthenticatedException();
    if (req.session?.mustChangePassword === true && !this.reflector.getAllAndOverride<boolean>(ALLOWED_BEFORE_PASSWORD_CHANGE, targets)) {
      throw new PasswordChangeRequiredException();
    }
    const declared = this.reflector.getAllAndOverride<Role | undefined>(REQUIRED_ROLE, targets);
    const required: Role = admin ? 'admin' : (declared ?? 'viewer');
    // admin is the highest role, so under /admin a lower declared role cannot weaken it.
    if (!roleAllows(user.role, required)) throw new ForbiddenException();
    return true;
  }
}
