import { Body, Controller, Get, Header, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response as ExpressResponse } from 'express';
import { AllowedBeforePasswordChange, type AuthenticatedUser, CurrentUser } from '../auth/auth.decorators.js';
import { CurrentUserDto } from '../auth/auth.dto.js';
import { AuthService } from '../auth/auth.service.js';
import { AppException } from '../core/errors/index.js';
import { ApiErrorResponses } from '../core/openapi.js';
import { cspNonceFor } from '../security/csp/security-headers.js';
import { RateLimit } from '../security/rate-limit/rate-limit.decorator.js';
import { PasswordChangeService } from './password-change.service.js';
import { renderPasswordPage } from './password-page.view.js';
import { ChangePasswordBody, ChangePasswordFormBody } from './users.dto.js';

/** `POST /api/auth/password` for the JSON client. */
@ApiTags('auth')
@ApiErrorResponses()
@Controller('api/auth')
export class PasswordController {
  constructor(private readonly passwords: PasswordChangeService) {}

  @AllowedBeforePasswordChange()
  @Post('password')
  // The contract's per-IP "password reset or similar" budget (RATE_LIMIT_RESET_PER_HOUR), shared with POST /password.
  @RateLimit('reset')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Change your own password',
    description:
      'Needs the current password (a wrong one counts as a failed login for the username). Policy: at least 12 characters, at most ' +
      '1024, not the username, not the current nor the previous password; violations are 400 VALIDATION_FAILED with details. ' +
      'Directory (ldap) users are refused with 403 FORBIDDEN. At most RATE_LIMIT_RESET_PER_HOUR (5) attempts per client IP per hour, ' +
      'with the HTML form counted alike: 429 RATE_LIMITED after that. Every other session of the user ends; this one continues under a new ' +
      'session cookie: fetch a new CSRF token afterwards. The one call (besides /me, /csrf and logout) a session that signed in with a ' +
      'one-time password may make.',
  })
  @ApiOkResponse({ type: CurrentUserDto })
  async change(@Req() req: Request, @Res({ passthrough: true }) res: ExpressResponse, @CurrentUser() user: AuthenticatedUser, @Body() body: ChangePasswordBody): Promise<CurrentUserDto> {
    return { user: await this.passwords.change(req, res, user, body.currentPassword, body.newPassword) };
  }
}

/**
 * The HTML page for the same (`GET`/`POST /password`), where the login form leads a one-time
 * password. Outside /api and /admin the access guard leaves routes alone, so this checks the
 * session itself: without one it sends the browser to /login.
 */
@Controller('password')
export class PasswordPageController {
  constructor(
    private readonly passwords: PasswordChangeService,
    private readonly auth: AuthService,
  ) {}

  @ApiExcludeEndpoint()
  @Get()
  show(@Req() req: Request, @Res({ passthrough: true }) res: ExpressResponse): Promise<Response> {
    return this.page(req, res, 200, null);
  }

  @ApiExcludeEndpoint()
  @Post()
  @RateLimit('reset')
  async submit(@Req() req: Request, @Res({ passthrough: true }) res: ExpressResponse, @Body() body: ChangePasswordFormBody): Promise<Response> {
    const user = req.user;
    if (user === undefined) return new Response(null, { status: 303, headers: { Location: '/login' } });
    if (body.newPassword !== body.confirmPassword) return this.page(req, res, 400, 'The new password and its confirmation differ.');
    try {
      const fresh = await this.passwords.change(req, res, user, body.currentPassword, body.newPassword);
      return new Response(null, { status: 303, headers: { Location: fresh.role === 'admin' ? '/admin' : '/' } });
    } catch (error) {
      if (!(error instanceof AppException) || error.status >= 500 || error.status === 429) throw error;
      const details = error.details?.map((d) => `${d.path} ${d.message}`).join('; ');
      return this.page(req, res, error.status, details ? `${error.message}: ${details}.` : error.message);
    }
  }

  private async page(req: Request, res: ExpressResponse, status: number, error: string | null): Promise<Response> {
    const user = req.user;
    if (user === undefined) return new Response(null, { status: 303, headers: { Location: '/login' } });
    const html = renderPasswordPage({
      csrfToken: await this.auth.csrfToken(req, res),
      nonce: cspNonceFor(res),
      username: user.username,
      required: req.session?.mustChangePassword === true,
      error,
    });
    return new Response(html, { status, headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' } });
  }
}
