import { HttpException } from '@nestjs/common';
import { AppException, type ErrorDetail } from './app.exception.js';
import { ERROR_STATUS, ErrorCode } from './error-code.js';

export interface ErrorEnvelope {
  error: {
    code: ErrorCode;
    message: string;
    retryable: boolean;
    retryAfterMs: number | null;
    correlationId: string;
    details?: ErrorDetail[];
  };
}

export interface ErrorResponse {
  status: number;
  body: ErrorEnvelope;
  headers: Record<string, string>;
  /** Unknown errors are logged with their stack; expected ones are not worth a stack. */
  unexpected: boolean;
}

interface ParserError {
  type?: string;
  status?: number;
  statusCode?: number;
  expose?: boolean;
}

/** body-parser/raw-body failures, which happen before any route is chosen. */
function fromParserError(error: ParserError): AppException | null {
  switch (error.type) {
    case 'entity.parse.failed':
      return new AppException(ErrorCode.VALIDATION_FAILED, 'The request body is not valid JSON', {
        details: [{ path: 'body', message: 'malformed JSON' }],
      });
    case 'entity.too.large':
      return new AppException(ErrorCode.PAYLOAD_TOO_LARGE, 'The request body is larger than allowed');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AppException(ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'The request body encoding is not supported');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
    case 'parameters.too.many':
      return new AppException(ErrorCode.VALIDATION_FAILED, 'The request body could not be read', {
        details: [{ path: 'body', message: error.type }],
      });
    case 'querystring.parse.rangeError':
    case 'entity.verify.failed':
      return new AppException(ErrorCode.VALIDATION_FAILED, 'The request body is not acceptable', {
        details: [{ path: 'body', message: error.type }],
      });
    default:
      // Any other client error of the parsers (http-errors marks them `expose`) is the
      // client's, not a 500 with a stack in the log.
      if (error.expose === true && typeof error.status === 'number' && error.status >= 400 && error.status < 500) {
        return new AppException(STATUS_CODES[error.status] ?? ErrorCode.VALIDATION_FAILED, 'The request could not be read');
      }
      return null;
  }
}

/** An error answer is never larger than a small request: a handful of short details. */
export const MAX_ERROR_DETAILS = 5;
const MAX_DETAIL_CHARS = 200;

const clip = (text: string) => (text.length > MAX_DETAIL_CHARS ? `${text.slice(0, MAX_DETAIL_CHARS - 1)}…` : text);

function capDetails(details: ErrorDetail[]): ErrorDetail[] {
  return details.slice(0, MAX_ERROR_DETAILS).map((detail) => ({ path: clip(detail.path), message: clip(detail.message) }));
}

const STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  400: ErrorCode.VALIDATION_FAILED,
  401: ErrorCode.UNAUTHENTICATED,
  403: ErrorCode.FORBIDDEN,
  404: ErrorCode.NOT_FOUND,
  405: ErrorCode.NOT_FOUND,
  413: ErrorCode.PAYLOAD_TOO_LARGE,
  415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  429: ErrorCode.RATE_LIMITED,
  503: ErrorCode.SHUTTING_DOWN,
};

/** Maps anything thrown to the contract's envelope. The only place that does. */
export function toErrorResponse(error: unknown, correlationId: string): ErrorResponse {
  let app: AppException | null = null;
  let unexpected = false;
  // Nest wraps body-parser's http-errors (and so whatever a `verify` hook threw) in an
  // HttpException; the original, with its type, is the cause.
  const cause: unknown = error instanceof HttpException ? error.cause : undefined;
  if (error instanceof AppException) app = error;
  else if (cause instanceof AppException) app = cause;
  else if (error instanceof HttpException) {
    const status = error.getStatus();
    const code = STATUS_CODES[status];
    const parser = cause !== null && typeof cause === 'object' ? fromParserError(cause as ParserError) : null;
    if (parser !== null) app = parser;
    else if (status < 500) {
      // Nest's own messages ("Cannot GET /x") are safe; they name only the path asked for.
      app = new AppException(code ?? ErrorCode.VALIDATION_FAILED, status === 404 ? 'Not found' : clip(error.message));
    } else unexpected = true;
  } else if (error !== null && typeof error === 'object') {
    app = fromParserError(error as ParserError);
    if (app === null) unexpected = true;
  } else unexpected = true;

  if (app === null) app = new AppException(ErrorCode.INTERNAL, 'An unexpected error occurred');
  const headers: Record<string, string> = {};
  if (app.retryAfterMs !== null) headers['Retry-After'] = String(Math.max(1, Math.ceil(app.retryAfterMs / 1000)));
  const body: ErrorEnvelope = {
    error: {
      code: app.code,
      message: app.message,
      retryable: app.retryable,
      retryAfterMs: app.retryAfterMs,
      correlationId,
      ...(app.details ? { details: capDetails(app.details) } : {}),
    },
  };
  return { status: app.status ?? ERROR_STATUS[app.code], body, headers, unexpected };
}
