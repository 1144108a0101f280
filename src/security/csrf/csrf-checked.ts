import type { Request } from 'express';

const CHECKED = Symbol('rampart.csrf.checked');

/** Set by the CSRF middleware once it has judged a request (whatever the verdict). */
export function markCsrfChecked(req: Request): void {
  (req as Request & { [CHECKED]?: true })[CHECKED] = true;
}

export function wasCsrfChecked(req: Request): boolean {
  return (req as Request & { [CHECKED]?: true })[CHECKED] === true;
}

/** Methods that must not change state; every other method needs a token. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);
