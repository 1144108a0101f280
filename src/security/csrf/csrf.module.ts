import { Global, Module } from '@nestjs/common';
import { CsrfMiddleware } from './csrf.middleware.js';
import { CsrfTokens } from './csrf-tokens.js';

/**
 * Global: any module that renders a form (the admin console) needs the session's token. The
 * CsrfCoverageGuard is installed by AuthModule, right after the access guard.
 */
@Global()
@Module({
  providers: [CsrfTokens, CsrfMiddleware],
  exports: [CsrfTokens, CsrfMiddleware],
})
export class CsrfModule {}
