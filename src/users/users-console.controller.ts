import { Body, Controller, Get, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response as ExpressResponse } from 'express';
import { AdminService } from '../admin/admin.service.js';
import { type AuthenticatedUser, CurrentUser, RequireRole } from '../auth/auth.decorators.js';
import { AuthService } from '../auth/auth.service.js';
import { AppException } from '../core/errors/index.js';
import { MAX_PAGE_LIMIT } from '../core/page-limit.query.js';
import { PositiveIntPipe } from '../core/positive-int.pipe.js';
import { IdempotencyKeyScope, IdempotentForm } from '../idempotency/idempotency.interceptor.js';
import type { IdempotencyScope } from '../idempotency/idempotency.service.js';
import { correlationIdOf } from '../observability/correlation.js';
import { cspNonceFor } from '../security/csp/security-headers.js';
import { CreateUserFormBody, ResetPasswordFormBody, SetRoleFormBody, UserReasonFormBody, UsersQuery } from './users.dto.js';
import { renderUsersPage, type UsersPageModel } from './users-console.view.js';
import { UsersService } from './users.service.js';

type Outcome = Pick<UsersPageModel, 'message' | 'oneTimePassword'> & { status: number; retryAfterMs?: number | null };

const ALREADY_DONE = 'This form was already submitted (a reload sends it again): nothing was done again.';
const CANNOT_SHOW =
  'Its one-time password can no longer be shown (SESSION_SECRET changed since); reset the password with a fresh form.';

/**
 * The console's user management pages. Each action is a form post answered with the page itself
 * (not a redirect): a one-time password must be shown exactly once, and a URL would keep it.
 * Reloading that page makes the browser post the form again, so the two forms that answer a
 * one-time password (create, reset) carry an idempotency key (IdempotentForm): the repeat is
 * answered with the first result, the same password, and creates or resets nothing again.
 */
@ApiExcludeController()
@RequireRole('admin')
@Controller('admin/users')
export class UsersConsoleController {
  constructor(
    private readonly users: UsersService,
    private readonly admin: AdminService,
    private readonly auth: AuthService,
  ) {}

  @Get()
  show(@Req() req: Request, @Res({ passthrough: true }) res: ExpressResponse, @CurrentUser() user: AuthenticatedUser, @Query() query: UsersQuery): Promise<Response> {
    return this.page(req, res, user, { status: 200, message: null, oneTimePassword: null }, query.after ?? null);
  }

  @Post()
  @IdempotentForm()
  create(
    @Req() req: Request,
    @Res({ passthrough: true }) res: ExpressResponse,
    @CurrentUser() user: AuthenticatedUser,
    @Body() body: CreateUserFormBody,
    @IdempotencyKeyScope() scope: IdempotencyScope | null,
  ) {
    return this.act(req, res, user, async (command) => {
      const created = await this.users.create({ ...command, username: body.username, role: body.role }, scope);
      const done = `Created ${created.user.username} (${created.user.role}).`;
      return {
        text: scope?.replayed !== true ? done : `${ALREADY_DONE} ${done}${created.oneTimePassword === null ? ` ${CANNOT_SHOW}` : ''}`,
        oneTimePassword: created.oneTimePassword === null ? null : { username: created.user.username, password: created.oneTimePassword },
      };
    }, body.reason);
  }

  @Post(':id/role')
  setRole(@Req() req: Request, @Res({ passthrough: true }) res: ExpressResponse, @CurrentUser() user: AuthenticatedUser, @Param('id', PositiveIntPipe) id: number, @Body() body: SetRoleFormBody) {
    return this.act(req, res, user, async (command) => {
      const changed = await this.users.setRole({ ...command, userId: id, role: body.role });
      return { text: `${changed.user.username} is now ${changed.user.role}; ${changed.revokedSessions} session(s) ended.` };
    }, body.reason);
  }

  @Post(':id/disable')
  disable(@Req() req: Request, @Res({ passthrough: true }) res: ExpressResponse, @CurrentUser() user: AuthenticatedUser, @Param('id', PositiveIntPipe) id: number, @Body() body: UserReasonFormBody) {
    return this.act(req, res, user, async (command) => {
      const changed = await this.users.setDisabled({ ...command, userId: id, disabled: true });
      return { text: `${changed.user.username} is disabled; ${changed.revokedSessions} session(s) ended.` };
    }, body.reason);
  }

  @Post(':id/enable')
  enable(@Req() req: Request, @Res({ passthrough: true }) res: ExpressResponse, @CurrentUser() user: AuthenticatedUser, @Param('id', PositiveIntPipe) id: number, @Body() body: UserReasonFormBody) {
    return this.act(req, res, user, async (command) => {
      const changed = await this.users.setDisabled({ ...command, userId: id, disabled: false });
      return { text: `${changed.user.username} is enabled.` };
    }, body.reason);
  }

  @Post(':id/reset-password')
  @IdempotentForm()
  resetPassword(
    @Req() req: Request,
    @Res({ passthrough: true }) res: ExpressResponse,
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', PositiveIntPipe) id: number,
    @Body() body: ResetPasswordFormBody,
    @IdempotencyKeyScope() scope: IdempotencyScope | null,
  ) {
    return this.act(req, res, user, async (command) => {
      const reset = await this.users.resetPassword({ ...command, userId: id }, scope);
      const username = reset.user.username;
      const text =
        scope?.replayed !== true
          ? `New one-time password for ${username}; ${reset.revokedSessions} session(s) ended.`
          : `${ALREADY_DONE} The password of ${username} was reset once; no session was ended now.${reset.oneTimePassword === null ? ` ${CANNOT_SHOW}` : ''}`;
      return { text, oneTimePassword: reset.oneTimePassword === null ? null : { username, password: reset.oneTimePassword } };
    }, body.reason);
  }

  @Post(':id/sign-out')
  signOut(@Req() req: Request, @Res({ passthrough: true }) res: ExpressResponse, @CurrentUser() user: AuthenticatedUser, @Param('id', PositiveIntPipe) id: number, @Body() body: UserReasonFormBody) {
    return this.act(req, res, user, async (command) => {
      const result = await this.admin.signOut({ ...command, userId: id });
      return { text: `Signed out everywhere; ${result.revokedSessions} session(s) ended.` };
    }, body.reason);
  }

  private async act(
    req: Request,
    res: ExpressResponse,
    user: AuthenticatedUser,
    work: (command: { actor: { id: number; username: string }; reason: string; correlationId: string }) => Promise<{ text: string; oneTimePassword?: UsersPageModel['oneTimePassword'] }>,
    reason: string,
  ): Promise<Response> {
    let outcome: Outcome;
    try {
      const done = await work({ actor: { id: user.id, username: user.username }, reason, correlationId: correlationIdOf(req) });
      outcome = { status: 200, message: { kind: 'ok', text: done.text }, oneTimePassword: done.oneTimePassword ?? null };
    } catch (error) {
      // Refusals are shown on the page; failures of the service itself go through the one filter.
      if (!(error instanceof AppException) || error.status >= 500) throw error;
      const details = error.details?.map((d) => `${d.path} ${d.message}`).join('; ');
      outcome = {
        status: error.status,
        message: { kind: 'error', text: `${error.code}: ${error.message}${details ? ` (${details})` : ''}` },
        oneTimePassword: null,
        retryAfterMs: error.retryAfterMs,
      };
    }
    return this.page(req, res, user, outcome, null);
  }

  private async page(req: Request, res: ExpressResponse, user: AuthenticatedUser, outcome: Outcome, after: number | null): Promise<Response> {
    const users = await this.users.list(MAX_PAGE_LIMIT + 1, after);
    const more = users.length > MAX_PAGE_LIMIT;
    const shown = more ? users.slice(0, MAX_PAGE_LIMIT) : users;
    const csrfToken = await this.auth.csrfToken(req, res);
    const html = renderUsersPage({
      // After the last await: an error answered instead of the page keeps the API headers.
      nonce: cspNonceFor(res) ?? '',
      csrfToken,
      username: user.username,
      users: shown,
      message: outcome.message,
      oneTimePassword: outcome.oneTimePassword,
      nextAfter: more ? shown.at(-1)!.id : null,
    });
    const headers: Record<string, string> = { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' };
    // As the JSON envelope does: IDEMPOTENCY_IN_PROGRESS says when to try again.
    if (outcome.retryAfterMs != null) headers['Retry-After'] = String(Math.max(1, Math.ceil(outcome.retryAfterMs / 1000)));
    return new Response(html, { status: outcome.status, headers });
  }
}
