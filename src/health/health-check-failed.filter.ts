import { type ArgumentsHost, Catch, type ExceptionFilter, HttpStatus } from '@nestjs/common';
import type { Response } from 'express';
import { HealthCheckFailedException } from './health-check-failed.exception.js';

/**
 * Probes and monitors read Terminus' `{status, info, error, details}` on 503 too, so a failed
 * health answer must not become the API error envelope of the global filter.
 */
@Catch(HealthCheckFailedException)
export class HealthCheckFailedFilter implements ExceptionFilter {
  catch(exception: HealthCheckFailedException, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    // Same as Terminus' @HealthCheck() sets on a 200: a cached failure would outlive the outage.
    res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
    res.status(HttpStatus.SERVICE_UNAVAILABLE).json(exception.payload);
  }
}
