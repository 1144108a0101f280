import { type DynamicModule, type MiddlewareConsumer, Module, type NestModule, RequestMethod } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import type { ApiDocsAccess } from '../config/rampart-config.js';
import { createOpenApiDocument } from '../core/openapi.js';
import { SessionMiddleware } from '../security/session/session.middleware.js';
import { SessionModule } from '../security/session/session.module.js';
import { apiDocsController } from './api-docs.controller.js';
import { ApiDocsDocument } from './api-docs.document.js';
import { SWAGGER_UI_ASSETS_PATH, swaggerUiAssets } from './swagger-ui-assets.js';

@Module({})
class ApiDocsOffModule {}

@Module({})
class OpenApiDocsModule {}

/**
 * Admin-only docs sit outside the usual session paths (see inSessionScope), so the session is
 * loaded for them here, before the AuthGuard decides.
 */
@Module({ imports: [SessionModule] })
class AdminApiDocsModule implements NestModule {
  constructor(private readonly sessions: SessionMiddleware) {}

  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply((req: Request, _res: Response, next: NextFunction) => this.sessions.identify(req, next))
      .forRoutes({ path: 'api/docs', method: RequestMethod.ALL }, { path: 'api/docs-json', method: RequestMethod.ALL });
  }
}

/** API_DOCS: no routes at all when off (404), Swagger UI and the JSON otherwise. */
export const ApiDocsModule = {
  register(access: ApiDocsAccess): DynamicModule {
    if (access === 'off') return { module: ApiDocsOffModule };
    return {
      module: access === 'admin' ? AdminApiDocsModule : OpenApiDocsModule,
      controllers: [apiDocsController(access)],
      providers: [ApiDocsDocument],
    };
  },
};

/** Builds the document once the routes are known and serves Swagger UI's own files. */
export function setupApiDocs(app: INestApplication, access: ApiDocsAccess, version: string): void {
  if (access === 'off') return;
  app.get(ApiDocsDocument).set(createOpenApiDocument(app, version));
  app.use(SWAGGER_UI_ASSETS_PATH, swaggerUiAssets());
}
