import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { UnauthenticatedException } from '../core/errors/index.js';
import { CsrfTokens } from '../security/csrf/csrf-tokens.js';
import { LoginFailureBudget } from '../security/rate-limit/login-failure-budget.js';
import { SessionControl } from '../security/session/session-control.js';
import type { AuthenticatedUser } from './auth.decorators.js';
import { CredentialVerifier } from './credential-verifier.js';

export const LOGIN_FAILED_MESSAGE = 'Invalid username or password';

/** Login, logout and the CSRF token, shared by the JSON API and the HTML login page. */
@Injectable()
export class AuthService {
  constructor(
    private readonly credentials: CredentialVerifier,
    private readonly sessions: SessionControl,
    private readonly csrf: CsrfTokens,
    private readonly failures: LoginFailureBudget,
  ) {}

  /**
   * A new session id for the user; the pre-login session and its CSRF token are gone. A
   * username whose failure budget is spent is refused (429) before its password is checked,
   * whether or not the account exists.
   */
  async login(req: Request, res: Response, username: string, password: string): Promise<AuthenticatedUser & { mustChangePassword: boolean }> {
    const attempt = await this.failures.admit(username, res);
    let verified: Awaited<ReturnType<CredentialVerifier['verify']>>;
    try {
      verified = await this.credentials.verify(username, password);
      if (verified === null) attempt.failed();
    } finally {
      await attempt.settle();
    }
    if (verified === null) {
      req.log?.info({ event: 'login-failed' }, 'login refused');
      throw new UnauthenticatedException(LOGIN_FAILED_MESSAGE);
    }
    const { user, credential, mustChangePassword, maxLifetimeS, loginRecorded } = verified;
    await this.sessions.establish(req, res, user, credential, { mustChangePassword, ...(maxLifetimeS === undefined ? {} : { maxLifetimeS }) });
    if (!loginRecorded) await this.credentials.recordLogin(user.id).catch((error: unknown) => req.log?.warn({ err: error }, 'last login time not recorded'));
    req.log?.info({ event: 'login', userId: user.id, mustChangePassword }, 'logged in');
    return { ...user, mustChangePassword };
  }

  logout(req: Request, res: Response): Promise<void> {
    return this.sessions.end(req, res);
  }

  /** The session's CSRF token; starts an anonymous session when there is none yet. */
  async csrfToken(req: Request, res: Response): Promise<string> {
    const existing = req.session?.csrfToken;
    this.sessions.begin(req);
    const token = this.csrf.tokenFor(req);
    // Stored before the token is handed out, so a store outage is a 503 and not a token
    // that no session backs.
    if (token !== existing) await this.sessions.save(req, res);
    return token;
  }
}
