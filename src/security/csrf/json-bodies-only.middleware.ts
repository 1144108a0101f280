import type { NextFunction, Request, Response } from 'express';
import { UnsupportedMediaTypeException } from './csrf.exceptions.js';

/** JSON endpoints: the API and the admin console's API. HTML forms post elsewhere (`/login`). */
export function isJsonEndpoint(path: string): boolean {
  const p = path.toLowerCase();
  return p === '/api' || p.startsWith('/api/') || p === '/admin/api' || p.startsWith('/admin/api/');
}

function hasBody(req: Request): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = Number(req.headers['content-length'] ?? 0);
  return Number.isNaN(length) || length > 0;
}

/**
 * 415 for any body on a JSON endpoint that is not `application/json`, before the body is
 * parsed. This is what makes a cross-site `<form enctype="text/plain">` (a "simple" request
 * that needs no CORS preflight) unable to reach the API at all.
 */
export function jsonBodiesOnly(req: Request, _res: Response, next: NextFunction): void {
  if (!isJsonEndpoint(req.path) || !hasBody(req) || req.is('application/json')) return next();
  next(new UnsupportedMediaTypeException());
}
