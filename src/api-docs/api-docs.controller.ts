import { Controller, Get, Header, Res, type Type } from '@nestjs/common';
import { ApiExcludeController, type OpenAPIObject } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public, RequireRole } from '../auth/auth.decorators.js';
import { cspNonceFor } from '../security/csp/security-headers.js';
import { ApiDocsDocument } from './api-docs.document.js';
import { renderApiDocsPage } from './api-docs.page.js';

/**
 * `/api/docs` (Swagger UI) and `/api/docs-json`. Open to anyone outside production; in
 * production (API_DOCS=on) admin-only, decided by the same AuthGuard as every other route, so
 * an anonymous caller gets 401 and a viewer or operator 403.
 */
export function apiDocsController(access: 'open' | 'admin'): Type<unknown> {
  @ApiExcludeController()
  @(access === 'open' ? Public() : RequireRole('admin'))
  @Controller('api')
  class ApiDocsController {
    constructor(readonly docs: ApiDocsDocument) {}

    @Get('docs')
    @Header('Content-Type', 'text/html; charset=utf-8')
    page(@Res({ passthrough: true }) res: Response): string {
      return renderApiDocsPage(cspNonceFor(res) ?? '');
    }

    @Get('docs-json')
    document(): OpenAPIObject {
      return this.docs.get();
    }
  }
  return ApiDocsController;
}
