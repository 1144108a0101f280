import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { HealthModule } from '../health/health.module.js';
import { IdempotencyModule } from '../idempotency/idempotency.module.js';
import { RUNTIME, type Runtime } from '../runtime.js';
import { SessionModule } from '../security/session/session.module.js';
import { AdminApiController } from './admin-api.controller.js';
import { AdminConsoleController } from './admin-console.controller.js';
import { AdminService } from './admin.service.js';
import { AuditLogService } from './audit-log.service.js';
import { FaviconController } from './favicon.controller.js';
import { IncidentService } from './incident.service.js';
import { ChannelWorkerControl } from './worker-control.channel.js';
import { WorkerControl } from './worker-control.js';

@Module({
  imports: [AuthModule, IdempotencyModule, SessionModule, HealthModule],
  controllers: [AdminApiController, AdminConsoleController, FaviconController],
  providers: [
    AdminService,
    AuditLogService,
    IncidentService,
    { provide: WorkerControl, inject: [RUNTIME], useFactory: (runtime: Runtime) => new ChannelWorkerControl(runtime.channel) },
  ],
  exports: [WorkerControl, AdminService, AuditLogService],
})
export class AdminModule {}
