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
/** A route's access decorators, read once per handler (metadata never changes after startup). */
interface RouteAccess {
  isPublic: boolean;
  allowedBeforePasswordChange: boolean;
  declared: Role | undefined;
}

@Injectable()
export class AuthGuard implements CanActivate {
  private readonly access = new WeakMap<object, Map<object, RouteAccess>>();

  constructor(private readonly reflector: Reflector) {}

  private accessOf(context: ExecutionContext): RouteAccess {
    const handler = context.getHandler();
    const controller = context.getClass();
    let byClass = this.access.get(handler);
    if (byClass === undefined) this.access.set(handler, (byClass = new Map()));
    let access = byClass.get(controller);
    if (access === undefined) {
      const targets = [handler, controller];
      access = {
        isPublic: this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets) === true,
        allowedBeforePasswordChange: this.reflector.getAllAndOverride<boolean>(ALLOWED_BEFORE_PASSWORD_CHANGE, targets) === true,
        declared: this.reflector.getAllAndOverride<Role | undefined>(REQUIRED_ROLE, targets),
      };
      byClass.set(controller, access);
    }
    return access;
  }

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<Request>();
    const template: unknown = req.route?.path;
    const path = (typeof template === 'string' ? template : req.path).toLowerCase();
    const admin = startsWithSegment(path, '/admin');
    if (!admin && !startsWithSegment(path, '/api')) return true;
    const access = this.accessOf(context);
    if (access.isPublic) return true;

    const user = req.user;
    // req.user (and userId on the request's logger) comes from the session middleware.
    if (user === undefined) throw new UnauthenticatedException();
    if (req.session?.mustChangePassword === true && !access.allowedBeforePasswordChange) {
      throw new PasswordChangeRequiredException();
    }
    const required: Role = admin ? 'admin' : (access.declared ?? 'viewer');
    // admin is the highest role, so under /admin a lower declared role cannot weaken it.
    if (!roleAllows(user.role, required)) throw new ForbiddenException();
    return true;
  }
}
