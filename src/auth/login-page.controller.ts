import { Body, Controller, Get, Post, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response as ExpressResponse } from 'express';
import { RateLimit } from '../security/rate-limit/rate-limit.decorator.js';
import { LoginFormBody } from './auth.dto.js';
import { LoginPageService } from './login-page.service.js';

/** `GET /login` and the form's `POST /login` (form-encoded, CSRF via the `_csrf` field). */
@ApiExcludeController()
@Controller('login')
export class LoginPageController {
  constructor(private readonly loginPage: LoginPageService) {}

  /** Starts an anonymous session like `GET /api/auth/csrf`, so it shares that per-IP budget. */
  @RateLimit('anonymous')
  @Get()
  show(@Req() req: Request, @Res({ passthrough: true }) res: ExpressResponse): Promise<Response> {
    return this.loginPage.show(req, res);
  }

  /** Shares the per-IP login budget with `POST /api/auth/login`: one is not a way around the other. */
  @RateLimit('login')
  @Post()
  submit(@Req() req: Request, @Res({ passthrough: true }) res: ExpressResponse, @Body() body: LoginFormBody): Promise<Response> {
    return this.loginPage.submit(req, res, body.username, body.password);
  }
}
