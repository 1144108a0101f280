import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { ExecutionContext } from '@nestjs/common';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AccountRateLimitGuard, isApiRoute } from './account-rate-limit.guard.js';
import { recordCountedHit } from './counted-hit.js';
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

const response = () => new ServerResponse(new IncomingMessage(new Socket()));

describe(isApiRoute.name, () => {
  it('decides on the matched route template, whatever case the path was sent in', () => {
    expect(isApiRoute({ path: '/API/LOTS', route: { path: '/api/lots' } })).toBe(true);
    expect(isApiRoute({ path: '/Api/lots' })).toBe(true);
    expect(isApiRoute({ path: '/health/live', route: { path: '/health/live' } })).toBe(false);
    expect(isApiRoute({ path: '/csp-report' })).toBe(false);
  });
});

describe(AccountRateLimitGuard.name, () => {
  const policy = { name: 'account' as const, limit: 2, windowMs: 60_000, blockMs: 60_000 };

  it('counts authenticated /api requests per user id and refuses past the budget', async () => {
    const guard = new AccountRateLimitGuard(new RateLimiter(new MemoryRateLimitStore(), new RateLimitMetrics(), pino({ level: 'silent' })), policy);
    const req = { path: '/api/lots', route: { path: '/api/lots' }, user: { id: 7 } };
    const first = response();
    expect(await guard.canActivate(context(req, first))).toBe(true);
    expect(first.getHeader('RateLimit')).toBe('"account";r=1;t=60');
    await guard.canActivate(context(req, response()));
    await expect(guard.canActivate(context(req, response()))).rejects.toBeInstanceOf(RateLimitedException);
    // Another user has a budget of their own; anonymous and non-API requests are not counted.
    await expect(guard.canActivate(context({ ...req, user: { id: 8 } }, response()))).resolves.toBeDefined();
    const anonymous = response();
    await guard.canActivate(context({ path: '/api/auth/csrf', route: { path: '/api/auth/csrf' } }, anonymous));
    expect(anonymous.getHeader('RateLimit')).toBeUndefined();
    const health = response();
    await guard.canActivate(context({ path: '/health', route: { path: '/health' }, user: { id: 7 } }, health));
    expect(health.getHeader('RateLimit')).toBeUndefined();
  });

  it('answers for a hit the session read already counted instead of counting the request again', async () => {
    const store = new MemoryRateLimitStore();
    const guard = new AccountRateLimitGuard(new RateLimiter(store, new RateLimitMetrics(), pino({ level: 'silent' })), policy);
    const req = { path: '/api/lots', route: { path: '/api/lots' }, user: { id: 7 } };
    recordCountedHit(req, { userId: 7, record: { totalHits: 3, timeToExpire: 42, isBlocked: true, timeToBlockExpire: 42 } });
    const res = response();
    await expect(guard.canActivate(context(req, res))).rejects.toBeInstanceOf(RateLimitedException);
    expect(res.getHeader('RateLimit')).toBe('"account";r=0;t=42');
    // The store never saw that request: the next one is its first hit.
    const next = response();
    await guard.canActivate(context(req, next));
    expect(next.getHeader('RateLimit')).toBe('"account";r=1;t=60');
    // A hit counted for another user (the session changed hands) is not taken as this one's.
    recordCountedHit(req, { userId: 8, record: { totalHits: 99, timeToExpire: 1, isBlocked: true, timeToBlockExpire: 1 } });
    const counted = response();
    expect(await guard.canActivate(context(req, counted))).toBe(true);
    expect(counted.getHeader('RateLimit')).toBe('"account";r=0;t=60');
  });
});
