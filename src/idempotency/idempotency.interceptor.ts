import {
  type CallHandler,
  createParamDecorator,
  type ExecutionContext,
  HttpStatus,
  Injectable,
  type NestInterceptor,
  SetMetadata,
  UseInterceptors,
  applyDecorators,
} from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants.js';
import { ApiHeader } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { type Observable, tap } from 'rxjs';
import { ValidationFailedException } from '../core/errors/index.js';
import { ApiErrorResponse } from '../core/openapi.js';
import { IDEMPOTENCY_KEY_PATTERN, requestFingerprint } from './fingerprint.js';
import type { IdempotencyScope } from './idempotency.service.js';

const SCOPE = Symbol('rampart:idempotency-scope');
const FORM_FIELD = 'rampart:idempotency-form-field';
type KeyedRequest = Request & { user?: { id: number }; [SCOPE]?: IdempotencyScope };

export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
export const IDEMPOTENT_REPLAYED_HEADER = 'Idempotent-Replayed';
/** The hidden field that carries the key in the console's forms (see IdempotentForm). */
export const IDEMPOTENCY_FORM_FIELD = 'idempotencyKey';

/**
 * Validates `Idempotency-Key` (or, on an IdempotentForm route, the form's key field) and derives
 * the request's scope (user, key, fingerprint, success status); after the handler, marks a
 * replayed answer. The storing itself is IdempotencyService's, called by the service that owns
 * the write (see there for why).
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const req = http.getRequest<KeyedRequest>();
    const formField = Reflect.getMetadata(FORM_FIELD, context.getHandler()) as string | undefined;
    const keyed = formField === undefined ? this.fromHeader(req) : this.fromForm(req, formField);
    if (keyed === null) return next.handle();
    // Keyed routes require a session (the guard ran first); the key is scoped to its user.
    const userId = req.user?.id;
    if (userId === undefined) return next.handle();
    const route = (req.route as { path?: unknown } | undefined)?.path;
    // A form is answered with its page, 200 whatever the route's default; the console reads
    // `replayed`, not the stored status.
    const status = formField !== undefined ? HttpStatus.OK : (Reflect.getMetadata(HTTP_CODE_METADATA, context.getHandler()) as number | undefined) ??
      (req.method === 'POST' ? HttpStatus.CREATED : HttpStatus.OK);
    const scope: IdempotencyScope = {
      userId,
      key: keyed.key,
      fingerprint: requestFingerprint({
        method: req.method,
        route: typeof route === 'string' ? route : req.path,
        params: req.params,
        body: keyed.body,
      }),
      status,
      replayed: false,
    };
    req[SCOPE] = scope;
    const res = http.getResponse<Response>();
    return next.handle().pipe(
      tap(() => {
        if (scope.replayed) res.setHeader(IDEMPOTENT_REPLAYED_HEADER, 'true');
      }),
    );
  }

  private fromHeader(req: KeyedRequest): { key: string; body: unknown } | null {
    const header = req.headers['idempotency-key'];
    if (header === undefined) return null;
    // A repeated header arrives joined with ", ", which the pattern rejects too.
    if (typeof header !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(header)) {
      throw new ValidationFailedException(
        [{ path: 'headers.idempotency-key', message: `must match ${IDEMPOTENCY_KEY_PATTERN.source}` }],
        'The Idempotency-Key header is not valid',
      );
    }
    return { key: header, body: req.body as unknown };
  }

  /**
   * The key from a form's hidden field. The request is the body without that field and without
   * `_csrf` (the session's token, checked already, is no part of what the form asks for).
   */
  private fromForm(req: KeyedRequest, field: string): { key: string; body: unknown } | null {
    const body = (typeof req.body === 'object' && req.body !== null ? req.body : {}) as Record<string, unknown>;
    const { [field]: key, _csrf: _token, ...rest } = body;
    // A page rendered before the field existed posts none: it behaves as before, like a request without the header.
    if (key === undefined) return null;
    if (typeof key !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(key)) {
      throw new ValidationFailedException([{ path: field, message: `must match ${IDEMPOTENCY_KEY_PATTERN.source}` }], 'The form\'s idempotency key is not valid');
    }
    return { key, body: rest };
  }
}

/** The scope the interceptor built, or null when the request carries no key. */
export const IdempotencyKeyScope = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): IdempotencyScope | null => ctx.switchToHttp().getRequest<KeyedRequest>()[SCOPE] ?? null,
);

/**
 * Marks a route as honouring Idempotency-Key (CONTRACT.md, "Idempotency") and documents it.
 * `other409` names the route's own 409 meaning: OpenAPI keeps one description per status.
 */
export const Idempotent = (other409?: string) =>
  applyDecorators(
    UseInterceptors(IdempotencyInterceptor),
    ApiHeader({
      name: IDEMPOTENCY_KEY_HEADER,
      required: false,
      description:
        'Makes the request safe to retry: a repeat with the same key and body (same user, within 24 h) gets the first answer ' +
        'with `Idempotent-Replayed: true` and does nothing again. Format ^[A-Za-z0-9._:-]{1,128}$.',
      schema: { type: 'string', pattern: IDEMPOTENCY_KEY_PATTERN.source },
    }),
    ApiErrorResponse(
      409,
      [other409, 'IDEMPOTENCY_IN_PROGRESS: a request with the same Idempotency-Key is still being processed (Retry-After)']
        .filter(Boolean)
        .join('; or '),
    ),
    ApiErrorResponse(422, 'IDEMPOTENCY_KEY_MISMATCH: the Idempotency-Key was already used with a different body'),
  );

/**
 * The same mechanism for a server-rendered form (the console): the page renders a fresh key into
 * the hidden field `idempotencyKey`, so the browser's re-submission of the same form (a reload
 * of the result page) is a repeat of the same request and replays the first answer. The handler
 * renders IdempotencyKeyMismatchException and IdempotencyInProgressException on its page.
 */
export const IdempotentForm = () => applyDecorators(SetMetadata(FORM_FIELD, IDEMPOTENCY_FORM_FIELD), UseInterceptors(IdempotencyInterceptor));
