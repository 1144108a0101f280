import { type DynamicModule, Global, Module } from '@nestjs/common';
import { ConfigModule as NestConfigModule, registerAs } from '@nestjs/config';
import type { RampartConfig } from './rampart-config.js';

/**
 * Registers each validated section with `registerAs`, so feature code reads
 * `config.get('database', { infer: true })` typed, and nothing else reads `process.env`.
 */
@Global()
@Module({})
export class RampartConfigModule {
  static forRoot(config: RampartConfig): DynamicModule {
    const sections = (Object.keys(config) as (keyof RampartConfig)[]).map((name) =>
      registerAs(name, () => config[name]),
    );
    return {
      module: RampartConfigModule,
      imports: [NestConfigModule.forRoot({ ignoreEnvFile: true, skipProcessEnv: true, load: sections, cache: true })],
      exports: [NestConfigModule],
    };
  }
}
