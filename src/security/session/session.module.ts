import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RampartConfig } from '../../config/rampart-config.js';
import { DatabaseService } from '../../database/database.service.js';
import { ROOT_LOGGER } from '../../observability/observability.tokens.js';
import { REDIS_CLIENT } from '../../redis/redis.tokens.js';
import { ShutdownRegistry } from '../../resilience/shutdown-registry.service.js';
import { AccountStatus } from './account-status.js';
import { MemorySessionBackend } from './memory-session.backend.js';
import { RampartSessionStore } from './rampart-session.store.js';
import { redisCounterKey } from '../rate-limit/redis-rate-limit.store.js';
import { counterKey } from '../rate-limit/rate-limiter.service.js';
import { ratePolicies } from '../rate-limit/rate-limit.policies.js';
import { RedisSessionBackend } from './redis-session.backend.js';
import { SessionBackend } from './session-backend.js';
import { SessionControl } from './session-control.js';
import { SessionCookie } from './session-cookie.js';
import { SessionEvents } from './session-events.js';
import { SessionRevocation } from './session-revocation.js';
import { SessionMiddleware } from './session.middleware.js';

/**
 * Sessions in Redis whenever REDIS_URL is set (never a fallback to memory then: a Redis
 * outage answers SESSION_STORE_UNAVAILABLE); in memory only in single-instance mode, which
 * the config refuses in production and announces once at start.
 */
@Module({
  providers: [
    {
      provide: SessionBackend,
      inject: [REDIS_CLIENT, ConfigService],
      useFactory: (redis: Redis | null, config: ConfigService<RampartConfig, true>): SessionBackend =>
        redis ? new RedisSessionBackend(redis, config.get('redis', { infer: true }).keyPrefix) : new MemorySessionBackend(),
    },
    {
      provide: RampartSessionStore,
      inject: [SessionBackend, ConfigService, ROOT_LOGGER],
      useFactory: (backend: SessionBackend, config: ConfigService<RampartConfig, true>, logger: Logger) =>
        new RampartSessionStore(backend, config.get('security', { infer: true }), logger.child({ component: 'session-store' })),
    },
    {
      provide: SessionEvents,
      inject: [REDIS_CLIENT, ConfigService, ROOT_LOGGER, ShutdownRegistry],
      useFactory: (redis: Redis | null, config: ConfigService<RampartConfig, true>, logger: Logger, registry: ShutdownRegistry) => {
        const settings = config.get('redis', { infer: true });
        const events = new SessionEvents(redis, `${settings.keyPrefix}session-events`, logger.child({ component: 'session-events' }));
        events.start(settings);
        registry.register({ name: 'session-events', phase: 'redis', close: () => events.stop() });
        return events;
      },
    },
    { provide: AccountStatus, inject: [DatabaseService], useFactory: (db: DatabaseService) => new AccountStatus(db) },
    SessionCookie,
    {
      provide: SessionMiddleware,
      inject: [RampartSessionStore, SessionCookie, AccountStatus, SessionRevocation, REDIS_CLIENT, ConfigService],
      useFactory: (
        store: RampartSessionStore,
        cookie: SessionCookie,
        accounts: AccountStatus,
        revocation: SessionRevocation,
        redis: Redis | null,
        config: ConfigService<RampartConfig, true>,
      ) => {
        // With Redis the session read also counts the per-account budget (one round trip);
        // RateLimitModule's store keeps the same counters under the same keys.
        const policy = ratePolicies(config.get('security', { infer: true })).account;
        const keyPrefix = redisCounterKey(config.get('redis', { infer: true }).keyPrefix, counterKey(policy, ''));
        const count = redis ? { keyPrefix, windowMs: policy.windowMs, limit: policy.limit, blockMs: policy.blockMs } : null;
        return new SessionMiddleware(store, cookie, accounts, revocation, count);
      },
    },
    SessionControl,
    SessionRevocation,
  ],
  exports: [SessionMiddleware, SessionControl, SessionBackend, SessionRevocation, SessionEvents, RampartSessionStore, AccountStatus],
})
export class SessionModule {}
