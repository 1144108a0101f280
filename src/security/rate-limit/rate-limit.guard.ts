import { Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  type ThrottlerModuleOptions,
  type ThrottlerRequest,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import type { Response } from 'express';
import type { RatePolicyName } from './rate-limit.policies.js';
import { RateLimiter } from './rate-limiter.service.js';

/**
 * @nestjs/throttler's guard for the per-IP policies: it picks the named throttlers that apply
 * to the route and tracks the client by `req.ip` (which follows TRUSTED_PROXIES, and groups
 * IPv6 clients by /64). Counting, the IETF headers and the RATE_LIMITED error are ours.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly limiter: RateLimiter,
  ) {
    super(options, storage, reflector);
  }

  protected override async handleRequest({ context, limit, ttl, blockDuration, throttler, getTracker }: ThrottlerRequest): Promise<boolean> {
    const http = context.switchToHttp();
    const req = http.getRequest<Record<string, unknown>>();
    const subject = await getTracker(req, context);
    const policy = { name: throttler.name as RatePolicyName, limit, windowMs: ttl, blockMs: blockDuration };
    await this.limiter.consume(policy, subject, http.getResponse<Response>());
    return true;
  }
}
