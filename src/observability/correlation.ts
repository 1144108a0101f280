import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestContext } from './request-context.js';

export const CORRELATION_HEADER = 'X-Correlation-ID';
const VALID_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The id of CONTRACT.md: a well-formed inbound id is reused, anything else replaced. */
export function pickCorrelationId(req: IncomingMessage): string {
  const inbound = req.headers['x-correlation-id'] ?? req.headers['x-request-id'];
  const candidate = Array.isArray(inbound) ? inbound[0] : inbound;
  return candidate !== undefined && VALID_ID.test(candidate) ? candidate : randomUUID();
}

export type CorrelatedRequest = IncomingMessage & { correlationId?: string };

/**
 * First middleware of the stack, before body parsing, so even a 400 for malformed JSON or a
 * 413 carries the header; the rest of the request runs inside its log context.
 */
export function correlationMiddleware(req: CorrelatedRequest, res: ServerResponse, next: () => void): void {
  const id = pickCorrelationId(req);
  req.correlationId = id;
  res.setHeader(CORRELATION_HEADER, id);
  requestContext.run({ correlationId: id, request: req }, next);
}

export function correlationIdOf(req: unknown): string {
  const id = (req as CorrelatedRequest | undefined)?.correlationId;
  return typeof id === 'string' ? id : randomUUID();
}
