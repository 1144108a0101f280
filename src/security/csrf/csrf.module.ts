import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { CsrfCoverageGuard } from './csrf-coverage.guard.js';
import { CsrfMiddleware } from './csrf.middleware.js';
import { CsrfTokens } from './csrf-tokens.js';

/** Global: any module that renders a form (the admin console) needs the session's token. */
@Global()
@Module({
  providers: [CsrfTokens, CsrfMiddleware, { provide: APP_GUARD, useClass: CsrfCoverageGuard }],
  exports: [CsrfTokens, CsrfMiddleware],
})
export class CsrfModule {}
