import { Body, Controller, Get, HttpCode, Param, Post, Put, Query, Req } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { type AuthenticatedUser, CurrentUser, RequireRole } from '../auth/auth.decorators.js';
import { ApiErrorResponses } from '../core/openapi.js';
import { DEFAULT_PAGE_LIMIT } from '../core/page-limit.query.js';
import { PositiveIntPipe } from '../core/positive-int.pipe.js';
import { Idempotent, IdempotencyKeyScope } from '../idempotency/idempotency.interceptor.js';
import type { IdempotencyScope } from '../idempotency/idempotency.service.js';
import { correlationIdOf } from '../observability/correlation.js';
import { ChangedUserDto, CreatedUserDto, CreateUserBody, PasswordResetDto, SetRoleBody, UserReasonBody, UsersQuery, UserSummaryDto } from './users.dto.js';
import { UsersService } from './users.service.js';

const actorOf = (user: AuthenticatedUser) => ({ id: user.id, username: user.username });

/** User management for admins (sign-out everywhere is `POST /admin/api/users/:id/sign-out`, beside the other operator actions). */
@ApiTags('admin')
@ApiErrorResponses()
@RequireRole('admin')
@Controller('admin/api/users')
export class UserAdminController {
  constructor(private readonly users: UsersService) {}

  @Get()
  @ApiOkResponse({ type: [UserSummaryDto], description: 'Users by id, at most `limit` (page on with `after` = the last id)' })
  list(@Query() query: UsersQuery) {
    return this.users.list(query.limit ?? DEFAULT_PAGE_LIMIT, query.after ?? null);
  }

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary: 'Create a local user with a one-time password',
    description:
      'The answer carries a generated one-time password, once; the user must change it at first sign-in (until then only the ' +
      'password change works). Audited with the reason. 400 VALIDATION_FAILED when the username is taken.',
  })
  @ApiCreatedResponse({ type: CreatedUserDto })
  @Idempotent()
  create(@Body() body: CreateUserBody, @CurrentUser() user: AuthenticatedUser, @Req() req: Request, @IdempotencyKeyScope() scope: IdempotencyScope | null) {
    return this.users.create({ username: body.username, role: body.role, reason: body.reason, actor: actorOf(user), correlationId: correlationIdOf(req) }, scope);
  }

  @Put(':id/role')
  @HttpCode(200)
  @ApiOperation({
    summary: "Change a local user's role",
    description:
      'Ends every session of the user when the role changes. 403 FORBIDDEN for a directory user (the directory decides) and for ' +
      'demoting the last enabled local admin (directory admins do not count).',
  })
  @ApiOkResponse({ type: ChangedUserDto })
  setRole(@Param('id', PositiveIntPipe) id: number, @Body() body: SetRoleBody, @CurrentUser() user: AuthenticatedUser, @Req() req: Request) {
    return this.users.setRole({ userId: id, role: body.role, reason: body.reason, actor: actorOf(user), correlationId: correlationIdOf(req) });
  }

  @Post(':id/disable')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Disable a user',
    description: 'No further sign-in, and every session ends at once (live streams end with reason `disabled`). 403 FORBIDDEN for the last enabled local admin (directory admins do not count).',
  })
  @ApiOkResponse({ type: ChangedUserDto })
  disable(@Param('id', PositiveIntPipe) id: number, @Body() body: UserReasonBody, @CurrentUser() user: AuthenticatedUser, @Req() req: Request) {
    return this.users.setDisabled({ userId: id, disabled: true, reason: body.reason, actor: actorOf(user), correlationId: correlationIdOf(req) });
  }

  @Post(':id/enable')
  @HttpCode(200)
  @ApiOperation({ summary: 'Enable a disabled user' })
  @ApiOkResponse({ type: ChangedUserDto })
  enable(@Param('id', PositiveIntPipe) id: number, @Body() body: UserReasonBody, @CurrentUser() user: AuthenticatedUser, @Req() req: Request) {
    return this.users.setDisabled({ userId: id, disabled: false, reason: body.reason, actor: actorOf(user), correlationId: correlationIdOf(req) });
  }

  // No @RateLimit('reset'): the contract's per-IP budget is for self-service changes an anonymous or
  // stolen session could repeat; this one needs an admin session (its account budget applies), a
  // reason, and every call is audited.
  @Post(':id/reset-password')
  @HttpCode(200)
  @ApiOperation({
    summary: "Reset a local user's password to a new one-time password",
    description: 'Every session of the user ends at once; the answer carries the one-time password, once. 403 FORBIDDEN for a directory user.',
  })
  @ApiOkResponse({ type: PasswordResetDto })
  // No Idempotency-Key (CONTRACT.md names the routes that take one); the console's form has one.
  resetPassword(@Param('id', PositiveIntPipe) id: number, @Body() body: UserReasonBody, @CurrentUser() user: AuthenticatedUser, @Req() req: Request) {
    return this.users.resetPassword({ userId: id, reason: body.reason, actor: actorOf(user), correlationId: correlationIdOf(req) }, null);
  }
}
