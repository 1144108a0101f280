import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
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
    { provide: APP_GUARD, useClass: AuthGuard },
  ],
  exports: [PasswordHasher, AuthService],
})
export class AuthModule {}
