import { Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { DatabaseService } from '../database/database.service.js';
import { ROOT_LOGGER } from '../observability/observability.tokens.js';
import { ShutdownRegistry } from '../resilience/shutdown-registry.service.js';
import { IdempotencyInterceptor } from './idempotency.interceptor.js';
import { IdempotencyService } from './idempotency.service.js';

@Module({
  providers: [
    {
      provide: IdempotencyService,
      inject: [DatabaseService, ShutdownRegistry, ROOT_LOGGER],
      useFactory: (db: DatabaseService, registry: ShutdownRegistry, logger: Logger) => {
        const service = new IdempotencyService(db, logger.child({ component: 'idempotency' }));
        service.startPurging();
        registry.register({ name: 'idempotency-purge', phase: 'jobs', close: () => service.stopPurging() });
        return service;
      },
    },
    IdempotencyInterceptor,
  ],
  exports: [IdempotencyService, IdempotencyInterceptor],
})
export class IdempotencyModule {}
