import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../core/errors/index.js';
import { MemoryRateLimitStore } from './memory-rate-limit.store.js';
import { RateLimitMetrics } from './rate-limit.metrics.js';
import type { RatePolicy } from './rate-limit.policies.js';
import { RateLimitStore } from './rate-limit.store.js';
import { RateLimitedException } from './rate-limited.exception.js';
import { RateLimiter } from './rate-limiter.service.js';

const login: RatePolicy = { name: 'login', limit: 2, windowMs: 60_000, blockMs: 60_000 };
const response = () => new ServerResponse(new IncomingMessage(new Socket()));
const silent = pino({ level: 'silent' });

describe(RateLimiter.name, () => {
  it('sets the policy and remaining budget, then refuses with RATE_LIMITED and counts the rejection', async () => {
    const metrics = new RateLimitMetrics();
    const limiter = new RateLimiter(new MemoryRateLimitStore(), metrics, silent);
    const first = response();
    await limiter.consume(login, '1.2.3.4', first);
    expect(first.getHeader('RateLimit-Policy')).toBe('"login";q=2;w=60');
    expect(first.getHeader('RateLimit')).toBe('"login";r=1;t=60');
    await limiter.consume(login, '1.2.3.4', response());
    const third = response();
    const error = await limiter.consume(login, '1.2.3.4', third).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedException);
    expect(error).toMatchObject({ code: ErrorCode.RATE_LIMITED, status: 429, retryable: true, retryAfterMs: 60_000 });
    expect(third.getHeader('RateLimit')).toBe('"login";r=0;t=60');
    expect(metrics.snapshot().rejections.get('login')).toBe(1);
  });

  it('lets the request through and counts the failure when the store is down', async () => {
    class BrokenStore extends RateLimitStore {
      increment(): never {
        throw new Error('connection refused');
      }
      extend(): never {
        throw new Error('connection refused');
      }
      refund(): never {
        throw new Error('connection refused');
      }
    }
    const metrics = new RateLimitMetrics();
    const limiter = new RateLimiter(new BrokenStore(), metrics, silent);
    await expect(limiter.consume(login, '1.2.3.4', response())).resolves.toBeUndefined();
    expect(metrics.snapshot().storeFailures).toBe(1);
  });
});
