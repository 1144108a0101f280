import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { RampartConfig } from '../config/rampart-config.js';
import { AdmissionController } from '../resilience/admission/admission-controller.js';
import { APP_GUARD } from '@nestjs/core';
import { CsrfCoverageGuard } from '../security/csrf/csrf-coverage.guard.js';
import { CsrfModule } from '../security/csrf/csrf.module.js';
import { SessionModule } from '../security/session/session.module.js';
import { AuthController } from './auth.controller.js';
import { AuthGuard } from './auth.guard.js';
import { AuthService } from './auth.service.js';
import { CredentialVerifier } from './credential-verifier.js';
import { DirectoryModule } from './directory/directory.module.js';
import { LoginPageController } from './login-page.controller.js';
import { LoginPageService } from './login-page.service.js';
import { PasswordHasher } from './password-hasher.js';

/** Login, logout, the CSRF token endpoint, the login page, and the global access guard. */
@Module({
  imports: [SessionModule, CsrfModule, DirectoryModule],
  controllers: [AuthController, LoginPageController],
  providers: [
    {
      provide: PasswordHasher,
      inject: [ConfigService, AdmissionController],
      useFactory: (config: ConfigService<RampartConfig, true>, admission: AdmissionController) => {
        const { concurrency, queueSize, queueTimeoutMs } = config.get('admission', { infer: true }).passwordHash;
        // The sign-in routes hash a password: while the bulkhead is full they are refused by
        // admission control before their session, CSRF and user lookup.
        return new PasswordHasher(admission.bulkhead('password-hash', { concurrency, queueSize, queueTimeoutMs }, ['POST /api/auth/login', 'POST /login']));
      },
    },
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
