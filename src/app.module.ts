import { type DynamicModule, Module } from '@nestjs/common';
import { AdminModule } from './admin/admin.module.js';
import { ApiDocsModule } from './api-docs/api-docs.module.js';
import { AuthModule } from './auth/auth.module.js';
import { RampartConfigModule } from './config/config.module.js';
import { CoreModule } from './core/core.module.js';
import { DatabaseModule } from './database/database.module.js';
import { DomainModule } from './domain/domain.module.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './observability/metrics.module.js';
import { ROOT_LOGGER } from './observability/observability.tokens.js';
import { TestHooksModule } from './observability/test-hooks.module.js';
import { RealtimeModule } from './realtime/realtime.module.js';
import { RedisModule } from './redis/redis.module.js';
import { ResilienceModule } from './resilience/resilience.module.js';
import { CspModule } from './security/csp/csp.module.js';
import { IpModule } from './security/ip/ip.module.js';
import { RateLimitModule } from './security/rate-limit/rate-limit.module.js';
import { RUNTIME, type Runtime } from './runtime.js';
import { UsersModule } from './users/users.module.js';

@Module({})
export class RuntimeModule {}

@Module({})
export class AppModule {
  static forRoot(runtime: Runtime): DynamicModule {
    const runtimeModule: DynamicModule = {
      module: RuntimeModule,
      global: true,
      providers: [
        { provide: RUNTIME, useValue: runtime },
        { provide: ROOT_LOGGER, useValue: runtime.logger },
      ],
      exports: [RUNTIME, ROOT_LOGGER],
    };
    return {
      module: AppModule,
      imports: [
        runtimeModule,
        RampartConfigModule.forRoot(runtime.config),
        CoreModule,
        ResilienceModule,
        RedisModule,
        IpModule,
        RateLimitModule,
        CspModule,
        DatabaseModule,
        AuthModule,
        DomainModule,
        HealthModule,
        RealtimeModule,
        AdminModule,
        UsersModule,
        MetricsModule,
        ApiDocsModule.register(runtime.config.app.apiDocs),
        TestHooksModule.register(runtime.config.app.testHooks),
      ],
    };
  }
}
