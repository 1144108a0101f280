import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import expressModule, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { NotFoundException } from '../core/errors/index.js';

export const SWAGGER_UI_ASSETS_PATH = '/assets/swagger-ui';

/** The only files the page loads; source maps and the sample index are not served. */
const FILES = new Set(['swagger-ui-bundle.js', 'swagger-ui.css']);

/** swagger-ui-dist, the package @nestjs/swagger itself depends on (no CDN, no copy in the repo). */
export function swaggerUiDistDir(): string {
  return dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
}

/**
 * Swagger UI's script and stylesheet from this origin, so the page's CSP needs neither a CDN
 * nor `unsafe-inline`: the script is allowed by its nonce, the stylesheet by `style-src 'self'`.
 * Public code, no session.
 */
export function swaggerUiAssets(): RequestHandler {
  const serve = expressModule.static(swaggerUiDistDir(), { index: false, fallthrough: false, redirect: false, dotfiles: 'deny' });
  return (req: Request, res: Response, next: NextFunction) => {
    if (!FILES.has(req.path.slice(1))) return next(new NotFoundException());
    serve(req, res, next);
  };
}
