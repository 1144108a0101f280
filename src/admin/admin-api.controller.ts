import { Body, Controller, Get, HttpCode, Param, Post, Put, Query, Req } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { type AuthenticatedUser, CurrentUser, RequireRole } from '../auth/auth.decorators.js';
import { ApiErrorResponses } from '../core/openapi.js';
import { Idempotent, IdempotencyKeyScope } from '../idempotency/idempotency.interceptor.js';
import { type IdempotencyScope, IdempotencyService } from '../idempotency/idempotency.service.js';
import { DEFAULT_PAGE_LIMIT } from '../core/page-limit.query.js';
import { PositiveIntPipe } from '../core/positive-int.pipe.js';
import { correlationIdOf } from '../observability/correlation.js';
import {
  AuditEntryDto,
  AuditQuery,
  LogLevelBody,
  LogLevelOverrideDto,
  RestartAcceptedDto,
  RestartBody,
  SignOutBody,
  SignOutResultDto,
  SystemStatusDto,
  WorkerStatusDto,
} from './admin.dto.js';
import { AdminService, type LogLevelCommand } from './admin.service.js';
import { AuditLogService } from './audit-log.service.js';

@ApiTags('admin')
@ApiErrorResponses()
@RequireRole('admin')
@Controller('admin/api')
export class AdminApiController {
  constructor(
    private readonly admin: AdminService,
    private readonly audit: AuditLogService,
    private readonly idempotency: IdempotencyService,
  ) {}

  @Get('system-status')
  @ApiOkResponse({ type: SystemStatusDto, description: 'Uptime, version, workers, pools, breaker, Redis, restart churn, policy' })
  systemStatus() {
    return this.admin.systemStatus();
  }

  @Get('worker/status')
  @ApiOkResponse({ type: WorkerStatusDto, description: 'Workers, restart history within the window, policy, cooldown, next action' })
  workerStatus() {
    return this.admin.workerStatus();
  }

  @Post('worker/restart')
  @HttpCode(202)
  @ApiAcceptedResponse({ type: RestartAcceptedDto })
  @Idempotent('RESTART_BLOCKED: the churn policy blocks restarts (send acknowledgeOverride: true with a reason), or there is no cluster supervisor')
  restart(
    @Body() body: RestartBody,
    @CurrentUser() user: AuthenticatedUser,
    @Req() req: Request,
    @IdempotencyKeyScope() idempotency: IdempotencyScope | null,
  ) {
    return this.idempotency.effect(idempotency, () =>
      this.admin.restart({
        reason: body.reason,
        acknowledgeOverride: body.acknowledgeOverride === true,
        actor: { id: user.id, username: user.username },
        correlationId: correlationIdOf(req),
      }),
    );
  }

  @Put('log-level')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Set a temporary log level for every worker',
    description:
      'Every worker (and the cluster primary; in single mode this process) logs at `level` until `minutes` pass, then ' +
      'at its LOG_LEVEL again, by itself. A new call replaces the running one. Audited with the reason. Shown in ' +
      '`GET /admin/api/system-status` (`logLevel`) and the console.',
  })
  @ApiOkResponse({ type: LogLevelOverrideDto })
  setLogLevel(@Body() body: LogLevelBody, @CurrentUser() user: AuthenticatedUser, @Req() req: Request) {
    return this.admin.setLogLevel({
      level: body.level as LogLevelCommand['level'],
      minutes: body.minutes,
      reason: body.reason,
      actor: { id: user.id, username: user.username },
      correlationId: correlationIdOf(req),
    });
  }

  @Post('users/:id/sign-out')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Sign a user out everywhere',
    description:
      'Ends every session of the user on every worker and replica at once: their next request is 401 UNAUTHENTICATED and ' +
      'their live streams end with `event: end` `{"reason":"revoked"}`. Audited with the reason and the outcome. Signing out ' +
      'does not stop a new login; disable the user for that.',
  })
  @ApiOkResponse({ type: SignOutResultDto })
  signOut(@Param('id', PositiveIntPipe) id: number, @Body() body: SignOutBody, @CurrentUser() user: AuthenticatedUser, @Req() req: Request) {
    return this.admin.signOut({ userId: id, reason: body.reason, actor: { id: user.id, username: user.username }, correlationId: correlationIdOf(req) });
  }

  @Get('audit')
  @ApiOkResponse({ type: [AuditEntryDto], description: 'Audit entries, newest first' })
  auditLog(@Query() query: AuditQuery) {
    return this.audit.list(query.limit ?? DEFAULT_PAGE_LIMIT, query.before ?? null);
  }
}
