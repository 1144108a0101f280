import { createHash, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { csrfSync } from 'csrf-sync';
import type { Request } from 'express';

/**
 * Synchroniser tokens held in the session, issued by csrf-sync. Verification is ours:
 * csrf-sync compares with `===` and reads whatever getter it is given, while here the
 * token may come only from the `X-CSRF-Token` header or a form-encoded `_csrf` field
 * (never the query string, which leaks into logs and Referer) and is compared in
 * constant time.
 */
@Injectable()
export class CsrfTokens {
  private readonly sync = csrfSync({ size: 32, getTokenFromRequest: submittedToken });

  /** The session's token, created (and the session thereby made worth storing) on first use. */
  tokenFor(req: Request): string {
    return this.sync.generateToken(req);
  }

  verify(req: Request): boolean {
    if (req.session === undefined) return false;
    const stored = this.sync.getTokenFromState(req);
    const submitted = submittedToken(req);
    if (typeof stored !== 'string' || stored === '' || submitted === undefined) return false;
    return constantTimeEqual(stored, submitted);
  }
}

/** The token a request carries, from the only two places one is accepted. */
export function submittedToken(req: Request): string | undefined {
  const header = req.headers['x-csrf-token'];
  if (typeof header === 'string' && header !== '') return header;
  if (req.is('application/x-www-form-urlencoded')) {
    // A repeated `_csrf` parses to an array, which is not a token.
    const field = (req.body as Record<string, unknown> | undefined)?._csrf;
    if (typeof field === 'string' && field !== '') return field;
  }
  return undefined;
}

/** Equal-length digests first, so neither the content nor the length of the token leaks through timing. */
export function constantTimeEqual(a: string, b: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}
