import { type DynamicModule, Module } from '@nestjs/common';
import { TestHooksController } from './test-hooks.controller.js';

@Module({})
export class TestHooksModule {
  /** Empty unless enabled, so production has no such route at all (not merely a guarded one). */
  static register(enabled: boolean): DynamicModule {
    return { module: TestHooksModule, controllers: enabled ? [TestHooksController] : [] };
  }
}
