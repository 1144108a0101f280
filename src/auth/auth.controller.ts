import { Body, Controller, Get, Header, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiErrorResponse, ApiErrorResponses } from '../core/openapi.js';
import { RateLimit } from '../security/rate-limit/rate-limit.decorator.js';
import { AllowedBeforePasswordChange, type AuthenticatedUser, CurrentUser, Public } from './auth.decorators.js';
import { CsrfTokenDto, CurrentUserDto, LoginBody } from './auth.dto.js';
import { AuthService } from './auth.service.js';

@ApiTags('auth')
@ApiErrorResponses()
@Controller('api/auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Public()
  @RateLimit('login')
  @Post('login')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @ApiOkResponse({ type: CurrentUserDto, description: 'Sets a new session cookie; fetch a new CSRF token afterwards' })
  @ApiErrorResponse(
    503,
    'AUTH_PROVIDER_UNAVAILABLE (the directory cannot be reached or timed out; local accounts still sign in), OVERLOADED, ' +
      'DB_POOL_EXHAUSTED, DB_CIRCUIT_OPEN, DB_UNAVAILABLE, SHUTTING_DOWN or SESSION_STORE_UNAVAILABLE (Retry-After)',
  )
  async login(@Req() req: Request, @Res({ passthrough: true }) res: Response, @Body() body: LoginBody): Promise<CurrentUserDto> {
    const { mustChangePassword, ...user } = await this.auth.login(req, res, body.username, body.password);
    return mustChangePassword ? { user, mustChangePassword } : { user };
  }

  @AllowedBeforePasswordChange()
  @Post('logout')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'The session is deleted and the cookie cleared' })
  logout(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<void> {
    return this.auth.logout(req, res);
  }

  @AllowedBeforePasswordChange()
  @Get('me')
  @Header('Cache-Control', 'no-store')
  @ApiOkResponse({ type: CurrentUserDto })
  me(@CurrentUser() user: AuthenticatedUser, @Req() req: Request): CurrentUserDto {
    return req.session?.mustChangePassword === true ? { user, mustChangePassword: true } : { user };
  }

  /** Per-IP `anonymous` budget: each call without a live session may start one. */
  @Public()
  @AllowedBeforePasswordChange()
  @RateLimit('anonymous')
  @Get('csrf')
  @Header('Cache-Control', 'no-store')
  @ApiOkResponse({ type: CsrfTokenDto, description: 'Starts an anonymous session when there is none' })
  async csrf(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<CsrfTokenDto> {
    return { token: await this.auth.csrfToken(req, res) };
  }
}
