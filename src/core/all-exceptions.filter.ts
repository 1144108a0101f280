import { type ArgumentsHost, Catch, type ExceptionFilter, Inject } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { correlationIdOf } from '../observability/correlation.js';
import { ROOT_LOGGER } from '../observability/observability.tokens.js';
import { routeTemplateOf, setErrorCode } from '../observability/route-template.js';
import { toErrorResponse } from './errors/envelope.js';

/** Every error that reaches Nest becomes the CONTRACT envelope here, and nowhere else. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  constructor(@Inject(ROOT_LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const http = host.switchToHttp();
    sendError(exception, http.getRequest<Request>(), http.getResponse<Response>(), this.logger);
  }
}

/** Shared with the raw Express error handler for failures before routing (body parsing). */
export function sendError(exception: unknown, req: Request, res: Response, logger: Logger): void {
  const correlationId = correlationIdOf(req);
  const { status, body, headers, unexpected } = toErrorResponse(exception, correlationId);
  if (unexpected) {
    const log = (req as Request & { log?: Logger }).log ?? logger.child({ correlationId });
    log.error({ err: exception, route: routeTemplateOf(req) }, 'unhandled error');
  }
  // Record the original on the response so the request log line says why it failed.
  if (unexpected && exception instanceof Error) (res as Response & { err?: Error }).err = exception;
  // The access log line and rampart_http_errors_total name the code the client was sent.
  setErrorCode(res, body.error.code);
  if (res.headersSent) {
    res.end();
    return;
  }
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.status(status).json(body);
}
