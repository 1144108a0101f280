import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { RampartConfig } from '../config/rampart-config.js';
import { BreakerService, MAIN_DB_BREAKER } from '../resilience/breaker.service.js';
import { ShutdownRegistry } from '../resilience/shutdown-registry.service.js';
import { RUNTIME, type Runtime } from '../runtime.js';
import { DatabaseService } from './database.service.js';
import { PgPoolManager, PoolManager } from './pool-manager.js';

@Global()
@Module({
  providers: [
    {
      provide: PoolManager,
      inject: [RUNTIME, ConfigService, ShutdownRegistry],
      useFactory: async (runtime: Runtime, config: ConfigService<RampartConfig, true>, registry: ShutdownRegistry) => {
        const manager = new PgPoolManager(runtime.databaseUrl, config.get('database', { infer: true }), runtime.logger.child({ component: 'main-db' }));
        // Registered before the first connection, so a failed start still closes the pool.
        registry.register({ name: 'main-pool', phase: 'main-db', close: () => manager.close() });
        await manager.initialize();
        return manager;
      },
    },
    {
      provide: DatabaseService,
      inject: [PoolManager, MAIN_DB_BREAKER],
      useFactory: (pool: PoolManager, breaker: BreakerService) => new DatabaseService(pool, breaker),
    },
  ],
  exports: [PoolManager, DatabaseService],
})
export class DatabaseModule {}
