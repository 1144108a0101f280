import type { LoggerService } from '@nestjs/common';
import type { Logger } from 'pino';

/**
 * Nest's own log lines (startup, route mapping, a provider that fails to construct, any
 * `new Logger(...)` in our code) written by the root logger, so they are JSON, redacted and
 * carry the request's ids like every other line. Nothing per request: the ids come from the
 * request context the root logger's mixin reads.
 */
/**
 * Nest's per-route mapping lines: one per route at every start, dozens of lines that bury the
 * ones an operator looks for (the first-start admin password). Debug, not info.
 */
const ROUTE_MAPPING_CONTEXTS: ReadonlySet<string> = new Set(['RouterExplorer', 'RoutesResolver']);

export class NestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    if (context !== undefined && ROUTE_MAPPING_CONTEXTS.has(context)) this.logger.debug({ context }, String(message));
    else this.logger.info({ context }, String(message));
  }

  error(message: unknown, stack?: string, context?: string): void {
    const err = message instanceof Error ? message : undefined;
    this.logger.error({ context, err, stack: err ? undefined : stack }, err ? err.message : String(message));
  }

  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, String(message));
  }

  debug(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }

  verbose(message: unknown, context?: string): void {
    this.logger.trace({ context }, String(message));
  }
}
