import type { LoggerService } from '@nestjs/common';
import type { Logger } from 'pino';

/**
 * Nest logs before the DI container (and nestjs-pino with it) exists, e.g. a provider that
 * fails to construct. This forwards those lines to the root logger so they are JSON and
 * redacted like every other line, instead of coloured text on stdout.
 */
export class EarlyNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    this.logger.info({ context }, String(message));
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
