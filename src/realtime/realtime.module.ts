import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Redis } from 'ioredis';
import type { RampartConfig } from '../config/rampart-config.js';
import { REDIS_CLIENT } from '../redis/redis.tokens.js';
import { SessionModule } from '../security/session/session.module.js';
import { EventsController } from './events.controller.js';
import { RealtimeService } from './realtime.service.js';
import { MemoryStreamSlots, RedisStreamSlots, StreamSlots } from './stream-slots.js';

/** Leases of live-stream slots outlast this many missed renewals (one per SSE_SESSION_CHECK_MS). */
const SLOT_LEASE_ROUNDS = 3;

@Module({
  imports: [SessionModule],
  controllers: [EventsController],
  providers: [
    RealtimeService,
    {
      provide: StreamSlots,
      inject: [REDIS_CLIENT, ConfigService],
      useFactory: (redis: Redis | null, config: ConfigService<RampartConfig, true>): StreamSlots =>
        redis
          ? new RedisStreamSlots(
              redis,
              config.get('redis', { infer: true }).keyPrefix,
              SLOT_LEASE_ROUNDS * config.get('resilience', { infer: true }).sse.sessionCheckMs,
            )
          : new MemoryStreamSlots(),
    },
  ],
  exports: [RealtimeService],
})
export class RealtimeModule {}
