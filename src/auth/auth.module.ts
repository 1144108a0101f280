import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { CsrfCoverageGuard } from '../security/csrf/csrf-coverage.guard.js';
import { CsrfModule } from '../security/csrf/csrf.module.js';
import { SessionModule } from '../security/session/session.module.js';
import { AuthController } from './auth.controller.js';
import { AuthGuard } from './auth.guard.js';
import { AuthService } from './auth.service.js';
import { CredentialVerifier } from './credential-verifier.js';
import { LoginPageController } from './login-page.controller.js';
import { LoginPageService } from './login-page.service.js';
import { PasswordHasher } from './password-hasher.js';

/** Login, logout, the CSRF token endpoint, the login page, and the global access guard. */
@Module({
  imports: [SessionModule, CsrfModule],
  controllers: [AuthController, LoginPageController],
  providers: [
    { provide: PasswordHasher, useClass: PasswordHasher },
    CredentialVerifier,
    AuthService,
    LoginPageService,
    // Global guards run in the order they are provided: 401 for a request without a live
    // session comes before the CSRF refusal the middleware deferred for it.
    { provide: APP_GUARD, useClass: AuthGuard },
    { provide: APP_GUARD, useClass: CsrfCoverageGuard },
  ],
  exports: [PasswordHasher, AuthService],
})
export class AuthModule {}
