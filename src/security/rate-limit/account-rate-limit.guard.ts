import type { CanActivate, ExecutionContext } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { AuthenticatedUser } from '../../auth/auth.decorators.js';
import { takeCountedHit } from './counted-hit.js';
import type { RatePolicy } from './rate-limit.policies.js';
import { RateLimiter } from './rate-limiter.service.js';

type MaybeAuthenticated = Request & { user?: Pick<AuthenticatedUser, 'id'> };

/**
 * Express matches routes case-insensitively, so `/API/lots` reaches the `/api/lots` handler:
 * the decision uses the matched route template, lower-cased, never the raw path as sent.
 */
export function isApiRoute(req: Pick<Request, 'path'> & { route?: { path?: unknown } }): boolean {
  const template = typeof req.route?.path === 'string' ? req.route.path : req.path;
  return template.toLowerCase().startsWith('/api/');
}

/**
 * One budget per user id across every authenticated `/api/*` route. The session middleware
 * names the user before any guard runs, so this guard's place among the global guards does
 * not matter: an anonymous request is never counted, an authenticated one always is (also
 * when another guard then refuses it). A guard rather than an interceptor: with no global
 * interceptor Nest calls handlers without building an rxjs pipeline per request. With Redis
 * the session middleware has usually counted the hit already (session read and counter in one
 * round trip); this guard then only answers for it.
 * Built by a factory in RateLimitModule (the policy comes from config).
 */
export class AccountRateLimitGuard implements CanActivate {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly policy: RatePolicy,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const http = context.switchToHttp();
    const req = http.getRequest<MaybeAuthenticated>();
    const userId = req.user?.id;
    if (userId !== undefined && isApiRoute(req)) {
      // Usually already counted by the session read, in its Redis round trip (SessionMiddleware).
      const counted = takeCountedHit(req, userId);
      if (counted !== null) this.limiter.apply(this.policy, counted, http.getResponse<Response>());
      else await this.limiter.consume(this.policy, String(userId), http.getResponse<Response>());
    }
    return true;
  }
}
