import { applyDecorators, type ExecutionContext, SetMetadata, UseGuards } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { RateLimitGuard } from './rate-limit.guard.js';
import type { IpRatePolicyName } from './rate-limit.policies.js';

export const RATE_LIMIT_POLICY = 'rampart:rate-limit-policy';

/**
 * Puts a route under a per-IP budget (`login`, `reset`, `csp-report`). The guard runs before
 * the handler, so a request that the handler would reject (a wrong password) still counts.
 */
export const RateLimit = (policy: IpRatePolicyName) => applyDecorators(SetMetadata(RATE_LIMIT_POLICY, policy), UseGuards(RateLimitGuard));

const reflector = new Reflector();

/** The per-IP policy a route opted into, if any. */
export function routeRatePolicy(context: ExecutionContext): IpRatePolicyName | undefined {
  return reflector.getAllAndOverride<IpRatePolicyName | undefined>(RATE_LIMIT_POLICY, [context.getHandler(), context.getClass()]);
}
