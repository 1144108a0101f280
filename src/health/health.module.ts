import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TerminusModule } from '@nestjs/terminus';
import type { Logger } from 'pino';
import type { RampartConfig } from '../config/rampart-config.js';
import { ROOT_LOGGER } from '../observability/observability.tokens.js';
import { BreakerService, MAIN_DB_BREAKER } from '../resilience/breaker.service.js';
import { ShutdownRegistry } from '../resilience/shutdown-registry.service.js';
import { RUNTIME, type Runtime } from '../runtime.js';
import { BreakerHealthIndicator } from './breaker.health.js';
import { DatabaseHealthIndicator } from './database.health.js';
import { DirectoryHealthIndicator } from './directory.health.js';
import { EventLoopHealthIndicator } from './event-loop.health.js';
import { HealthController } from './health.controller.js';
import { HealthDatabase, PgHealthDatabase, healthDbTimeouts } from './health-database.js';
import { HealthService } from './health.service.js';
import { LifecycleHealthIndicator } from './lifecycle.health.js';
import { PoolsHealthIndicator } from './pools.health.js';
import { RedisHealthIndicator } from './redis.health.js';
import { ResilienceDiagnostics } from './resilience-diagnostics.js';
import { ChannelRestartPolicySource } from './channel-restart-policy.source.js';
import { RestartPolicySource } from './restart-policy.source.js';
import { WorkerHealthIndicator } from './worker.health.js';

@Module({
  // Terminus would log every failed probe at error level; HealthService logs status changes instead.
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [
    {
      provide: HealthDatabase,
      inject: [RUNTIME, ConfigService, ShutdownRegistry, ROOT_LOGGER, MAIN_DB_BREAKER],
      useFactory: (runtime: Runtime, config: ConfigService<RampartConfig, true>, registry: ShutdownRegistry, logger: Logger, breaker: BreakerService) => {
        const timeouts = healthDbTimeouts(config.get('health', { infer: true }).dbTimeoutMs);
        const database = new PgHealthDatabase(
          runtime.databaseUrl,
          timeouts,
          logger.child({ component: 'health-db' }),
          config.get('database', { infer: true }).keepAliveIdleMs,
        );
        registry.register({ name: 'health-datasource', phase: 'health-db', close: () => database.close() });
        // While the main breaker is open, the isolated pool's ping answering again lets it try
        // a call at once instead of waiting out a doubled open period. This pool, not the
        // request pool: a probe must never queue behind (or take a connection from) requests.
        breaker.setRecoveryProbe(() => database.ping(undefined, false));
        return database;
      },
    },
    {
      provide: RestartPolicySource,
      inject: [RUNTIME, ShutdownRegistry],
      useFactory: (runtime: Runtime, registry: ShutdownRegistry) => {
        const source = new ChannelRestartPolicySource(runtime.channel);
        source.start();
        registry.register({ name: 'restart-policy-refresh', phase: 'jobs', close: () => source.stop() });
        return source;
      },
    },
    LifecycleHealthIndicator,
    DatabaseHealthIndicator,
    DirectoryHealthIndicator,
    RedisHealthIndicator,
    EventLoopHealthIndicator,
    BreakerHealthIndicator,
    PoolsHealthIndicator,
    WorkerHealthIndicator,
    ResilienceDiagnostics,
    HealthService,
  ],
  // HealthService: the operator console's status strip is /health/deep's own answer.
  exports: [HealthDatabase, HealthService],
})
export class HealthModule {}
