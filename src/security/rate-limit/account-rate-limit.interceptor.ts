import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Observable } from 'rxjs';
import type { AuthenticatedUser } from '../../auth/auth.decorators.js';
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
 * One budget per user id across every authenticated `/api/*` route. An interceptor rather
 * than a guard because interceptors run after all guards: the session guard has set
 * `req.user` by then, whatever order global guards happen to be registered in.
 * Built by a factory in RateLimitModule (the policy comes from config).
 */
export class AccountRateLimitInterceptor implements NestInterceptor {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly policy: RatePolicy,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    if (context.getType() !== 'http') return next.handle();
    const http = context.switchToHttp();
    const req = http.getRequest<MaybeAuthenticated>();
    const userId = req.user?.id;
    if (userId !== undefined && isApiRoute(req)) {
      await this.limiter.consume(this.policy, String(userId), http.getResponse<Response>());
    }
    return next.handle();
  }
}
