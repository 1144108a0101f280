import { type ExecutionContext, Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '../../observability/observability.tokens.js';
import type { RampartConfig } from '../../config/rampart-config.js';
import { REDIS_CLIENT } from '../../redis/redis.tokens.js';
import { AccountRateLimitGuard } from './account-rate-limit.guard.js';
import { DIRECTORY_FAILURE_BUDGET, LoginFailureBudget } from './login-failure-budget.js';
import { routeRatePolicy } from './rate-limit.decorator.js';
import { RateLimitGuard } from './rate-limit.guard.js';
import { RateLimitMetrics } from './rate-limit.metrics.js';
import { type IpRatePolicyName, ratePolicies } from './rate-limit.policies.js';
import { RateLimitStore } from './rate-limit.store.js';
import { RateLimiter } from './rate-limiter.service.js';
import { MemoryRateLimitStore } from './memory-rate-limit.store.js';
import { RedisRateLimitStore } from './redis-rate-limit.store.js';

type Config = ConfigService<RampartConfig, true>;

const IP_POLICIES: IpRatePolicyName[] = ['login', 'reset', 'csp-report', 'anonymous'];

/** `anonymous` bounds who starts pre-login sessions; a signed-in caller is under the account budget instead. */
function skips(name: IpRatePolicyName, context: ExecutionContext): boolean {
  if (routeRatePolicy(context) !== name) return true;
  return name === 'anonymous' && context.switchToHttp().getRequest<{ user?: unknown }>().user !== undefined;
}

/** Redis when configured (shared by workers and replicas), otherwise this process's memory. */
@Module({
  providers: [
    {
      provide: RateLimitStore,
      inject: [REDIS_CLIENT, ConfigService],
      useFactory: (redis: Redis | null, config: Config): RateLimitStore =>
        redis ? new RedisRateLimitStore(redis, config.get('redis', { infer: true }).keyPrefix) : new MemoryRateLimitStore(),
    },
  ],
  exports: [RateLimitStore],
})
export class RateLimitStoreModule {}

/**
 * Rate limits of CONTRACT.md. Per-IP policies are @nestjs/throttler throttlers that apply
 * only to routes marked `@RateLimit(name)`; the per-account budget is a global guard.
 * Global so the guard behind `@RateLimit` resolves in whichever module declares the route.
 */
@Global()
@Module({
  imports: [
    RateLimitStoreModule,
    ThrottlerModule.forRootAsync({
      imports: [RateLimitStoreModule],
      inject: [RateLimitStore, ConfigService],
      useFactory: (storage: RateLimitStore, config: Config) => {
        const policies = ratePolicies(config.get('security', { infer: true }));
        return {
          storage,
          setHeaders: false,
          throttlers: IP_POLICIES.map((name) => ({
            name,
            limit: policies[name].limit,
            ttl: policies[name].windowMs,
            blockDuration: policies[name].blockMs,
            skipIf: (context) => skips(name, context),
          })),
        };
      },
    }),
  ],
  providers: [
    RateLimitMetrics,
    RateLimiter,
    RateLimitGuard,
    {
      provide: APP_GUARD,
      inject: [RateLimiter, ConfigService],
      useFactory: (limiter: RateLimiter, config: Config) =>
        new AccountRateLimitGuard(limiter, ratePolicies(config.get('security', { infer: true })).account),
    },
    {
      provide: LoginFailureBudget,
      inject: [RateLimitStore, RateLimiter, RateLimitMetrics, ConfigService, ROOT_LOGGER],
      useFactory: (store: RateLimitStore, limiter: RateLimiter, metrics: RateLimitMetrics, config: Config, logger: Logger) => {
        const security = config.get('security', { infer: true });
        const policy = ratePolicies(security)['login-account'];
        return new LoginFailureBudget(store, limiter, metrics, policy, security.sessionSecret, logger.child({ component: 'login-budget' }));
      },
    },
    {
      // Same store, same keying (the HMAC subject), its own policy: `ldap-account:<subject>`.
      provide: DIRECTORY_FAILURE_BUDGET,
      inject: [RateLimitStore, RateLimiter, RateLimitMetrics, ConfigService, ROOT_LOGGER],
      useFactory: (store: RateLimitStore, limiter: RateLimiter, metrics: RateLimitMetrics, config: Config, logger: Logger) => {
        const security = config.get('security', { infer: true });
        const policy = ratePolicies(security)['ldap-account'];
        return new LoginFailureBudget(store, limiter, metrics, policy, security.sessionSecret, logger.child({ component: 'login-budget' }));
      },
    },
  ],
  exports: [RateLimitMetrics, RateLimiter, RateLimitGuard, LoginFailureBudget, DIRECTORY_FAILURE_BUDGET],
})
export class RateLimitModule {}
