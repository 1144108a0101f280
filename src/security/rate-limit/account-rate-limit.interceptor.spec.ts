import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { CallHandler, ExecutionContext } from '@nestjs/common';
import pino from 'pino';
import { lastValueFrom, of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { AccountRateLimitInterceptor, isApiRoute } from './account-rate-limit.interceptor.js';
import { MemoryRateLimitStore } from './memory-rate-limit.store.js';
import { RateLimitMetrics } from './rate-limit.metrics.js';
import { RateLimitedException } from './rate-limited.exception.js';
import { RateLimiter } from './rate-limiter.service.js';

function context(req: object, res: ServerResponse): ExecutionContext {
  return {
    getType: () => 'http',
    switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }),
  } as unknown as ExecutionContext;
}

const handler: CallHandler = { handle: () => of('ok') };
const response = () => new ServerResponse(new IncomingMessage(new Socket()));

describe(isApiRoute.name, () => {
  it('decides on the matched route template, whatever case the path was sent in', () => {
    expect(isApiRoute({ path: '/API/LOTS', route: { path: '/api/lots' } })).toBe(true);
    expect(isApiRoute({ path: '/Api/lots' })).toBe(true);
    expect(isApiRoute({ path: '/health/live', route: { path: '/health/live' } })).toBe(false);
    expect(isApiRoute({ path: '/csp-report' })).toBe(false);
  });
});

describe(AccountRateLimitInterceptor.name, () => {
  const policy = { name: 'account' as const, limit: 2, windowMs: 60_000, blockMs: 60_000 };

  it('counts authenticated /api requests per user id and refuses past the budget', async () => {
    const interceptor = new AccountRateLimitInterceptor(new RateLimiter(new MemoryRateLimitStore(), new RateLimitMetrics(), pino({ level: 'silent' })), policy);
    const req = { path: '/api/lots', route: { path: '/api/lots' }, user: { id: 7 } };
    const first = response();
    expect(await lastValueFrom(await interceptor.intercept(context(req, first), handler))).toBe('ok');
    expect(first.getHeader('RateLimit')).toBe('"account";r=1;t=60');
    await interceptor.intercept(context(req, response()), handler);
    await expect(interceptor.intercept(context(req, response()), handler)).rejects.toBeInstanceOf(RateLimitedException);
    // Another user has a budget of their own; anonymous and non-API requests are not counted.
    await expect(interceptor.intercept(context({ ...req, user: { id: 8 } }, response()), handler)).resolves.toBeDefined();
    const anonymous = response();
    await interceptor.intercept(context({ path: '/api/auth/csrf', route: { path: '/api/auth/csrf' } }, anonymous), handler);
    expect(anonymous.getHeader('RateLimit')).toBeUndefined();
    const health = response();
    await interceptor.intercept(context({ path: '/health', route: { path: '/health' }, user: { id: 7 } }, health), handler);
    expect(health.getHeader('RateLimit')).toBeUndefined();
  });
});
