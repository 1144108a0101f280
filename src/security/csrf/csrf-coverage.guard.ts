import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { inSessionScope } from '../session/session-scope.js';
import { isCsrfRefusalDeferred, SAFE_METHODS, wasCsrfChecked } from './csrf-checked.js';
import { CsrfInvalidException } from './csrf.exceptions.js';

/**
 * Fails closed if a state-changing request reached a session-scoped route without the CSRF
 * middleware having judged it, e.g. a path spelling the middleware's prefix match missed
 * but the router still matched. Decided on the matched route template, not the raw path.
 * Also answers the refusals the middleware deferred for requests whose session is gone; it is
 * registered after the access guard (AuthModule), which has answered 401 where one is due.
 */
@Injectable()
export class CsrfCoverageGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<Request>();
    if (isCsrfRefusalDeferred(req)) throw new CsrfInvalidException();
    if (SAFE_METHODS.has(req.method) || wasCsrfChecked(req)) return true;
    const template: unknown = req.route?.path;
    const scoped = inSessionScope(req.path) || (typeof template === 'string' && inSessionScope(template));
    if (scoped) throw new CsrfInvalidException();
    return true;
  }
}
