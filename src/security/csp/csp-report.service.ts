import { Inject, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import type { Logger } from 'pino';
import { correlationIdOf } from '../../observability/correlation.js';
import { ROOT_LOGGER } from '../../observability/observability.tokens.js';
import { type CspReportFormat, parseCspReports } from './csp-report.parser.js';

/**
 * Writes each reported violation as one warn line (bounded fields, bounded count) on the
 * request's logger, so it carries the correlation id. Nothing is stored.
 */
@Injectable()
export class CspReportLog {
  constructor(@Inject(ROOT_LOGGER) private readonly logger: Logger) {}

  record(req: Request, body: unknown): void {
    const format: CspReportFormat = req.is('application/csp-report') ? 'csp-report' : 'reports+json';
    const { violations, ignored } = parseCspReports(format, body);
    const log = (req as Request & { log?: Logger }).log ?? this.logger.child({ correlationId: correlationIdOf(req) });
    for (const violation of violations) log.warn({ cspViolation: violation, reportFormat: format }, 'CSP violation reported');
    if (ignored > 0) log.debug({ ignored, reportFormat: format }, 'CSP report entries ignored');
  }
}
