import { Injectable } from '@nestjs/common';
import type { Request, Response as ExpressResponse } from 'express';
import { AuthProviderUnavailableException, UnauthenticatedException } from '../core/errors/index.js';
import { cspNonceFor } from '../security/csp/security-headers.js';
import { RateLimitedException } from '../security/rate-limit/rate-limited.exception.js';
import { AuthService, LOGIN_FAILED_MESSAGE } from './auth.service.js';
import { renderLoginPage } from './login-page.view.js';

/**
 * The HTML login flow for browsers without the dashboard's JavaScript: the form carries
 * the session's CSRF token, success redirects with 303 (so a reload does not re-post),
 * failure shows the form again with 401.
 */
@Injectable()
export class LoginPageService {
  constructor(private readonly auth: AuthService) {}

  async show(req: Request, res: ExpressResponse): Promise<Response> {
    return this.page(req, res, 200, null, '');
  }

  async submit(req: Request, res: ExpressResponse, username: string, password: string): Promise<Response> {
    try {
      const user = await this.auth.login(req, res, username, password);
      // A one-time password leads to the password change first; nothing else would work anyway.
      const location = user.mustChangePassword ? '/password' : user.role === 'admin' ? '/admin' : '/';
      return new Response(null, { status: 303, headers: { Location: location } });
    } catch (error) {
      if (error instanceof RateLimitedException) {
        // The username's failed-login budget (the per-IP one refuses before this handler). The
        // same words for every username, existing or not.
        const retryAfterS = Math.max(1, Math.ceil((error.retryAfterMs ?? 1000) / 1000));
        const wait = retryAfterS < 120 ? `${retryAfterS} seconds` : `${Math.ceil(retryAfterS / 60)} minutes`;
        return this.page(req, res, 429, `Too many failed sign-ins for this username. Try again in ${wait}.`, username, {
          'Retry-After': String(retryAfterS),
        });
      }
      if (error instanceof AuthProviderUnavailableException) {
        const retryAfterS = Math.max(1, Math.ceil((error.retryAfterMs ?? 5000) / 1000));
        return this.page(req, res, 503, 'The sign-in directory cannot be reached right now. Try again shortly.', username, {
          'Retry-After': String(retryAfterS),
        });
      }
      if (!(error instanceof UnauthenticatedException)) throw error;
      return this.page(req, res, 401, LOGIN_FAILED_MESSAGE, username);
    }
  }

  private async page(
    req: Request,
    res: ExpressResponse,
    status: number,
    error: string | null,
    username: string,
    extraHeaders: Record<string, string> = {},
  ): Promise<Response> {
    const csrfToken = await this.auth.csrfToken(req, res);
    const html = renderLoginPage({ csrfToken, nonce: cspNonceFor(res), error, username });
    return new Response(html, { status, headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', ...extraHeaders } });
  }
}
