import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AdminModule } from '../admin/admin.module.js';
import { AuthModule } from '../auth/auth.module.js';
import type { RampartConfig } from '../config/rampart-config.js';
import { IdempotencyModule } from '../idempotency/idempotency.module.js';
import { SessionModule } from '../security/session/session.module.js';
import { OneTimePasswordSeal } from './one-time-password.js';
import { PasswordChangeService } from './password-change.service.js';
import { PasswordController, PasswordPageController } from './password.controller.js';
import { UserAdminController } from './user-admin.controller.js';
import { UsersConsoleController } from './users-console.controller.js';
import { UsersService } from './users.service.js';

/** User management (admin API, console pages), the self-service password change, and its page. */
@Module({
  imports: [AdminModule, AuthModule, IdempotencyModule, SessionModule],
  controllers: [UserAdminController, UsersConsoleController, PasswordController, PasswordPageController],
  providers: [
    UsersService,
    PasswordChangeService,
    {
      provide: OneTimePasswordSeal,
      inject: [ConfigService],
      useFactory: (config: ConfigService<RampartConfig, true>) => new OneTimePasswordSeal(config.get('security', { infer: true }).sessionSecret),
    },
  ],
})
export class UsersModule {}
