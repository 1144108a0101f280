import { type DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { RampartConfigModule } from './config/config.module.js';
import { CoreModule } from './core/core.module.js';
import { DatabaseModule } from './database/database.module.js';
import { DomainModule } from './domain/domain.module.js';
import { httpLoggerOptions } from './observability/logger.js';
import { ROOT_LOGGER } from './observability/observability.tokens.js';
import { RealtimeModule } from './realtime/realtime.module.js';
import { RedisModule } from './redis/redis.module.js';
import { ResilienceModule } from './resilience/resilience.module.js';
import { RUNTIME, type Runtime } from './runtime.js';

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
        LoggerModule.forRoot({ pinoHttp: httpLoggerOptions(runtime.logger) }),
        CoreModule,
        ResilienceModule,
        RedisModule,
        DatabaseModule,
        DomainModule,
        RealtimeModule,
      ],
    };
  }
}
