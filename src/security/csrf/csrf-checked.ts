import type { Request } from 'express';

const CHECKED = Symbol('rampart.csrf.checked');
const DEFERRED = Symbol('rampart.csrf.deferred');

/** Set by the CSRF middleware once it has judged a request (whatever the verdict). */
export function markCsrfChecked(req: Request): void {
  (req as Request & { [CHECKED]?: true })[CHECKED] = true;
}

export function wasCsrfChecked(req: Request): boolean {
  return (req as Request & { [CHECKED]?: true })[CHECKED] === true;
}

/**
 * The CSRF middleware refused the request, but the refusal waits for the guards: a request
 * whose session is gone must learn `401 UNAUTHENTICATED` from the access guard first, and
 * only a route that needs no session (login) answers `CSRF_INVALID`.
 */
export function deferCsrfRefusal(req: Request): void {
  (req as Request & { [DEFERRED]?: true })[DEFERRED] = true;
}

export function isCsrfRefusalDeferred(req: Request): boolean {
  return (req as Request & { [DEFERRED]?: true })[DEFERRED] === true;
}

/** Methods that must not change state; every other method needs a token. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);
