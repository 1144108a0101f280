import { type ArgumentsHost, Catch, type ExceptionFilter, HttpStatus } from '@nestjs/common';
import type { Response } from 'express';
import { setErrorCode } from '../observability/route-template.js';
import { HealthCheckFailedException } from './health-check-failed.exception.js';

/** The `errorCode` of a failed probe's log line and metric (probes get Terminus' body, not the envelope). */
export const HEALTH_CHECK_FAILED = 'HEALTH_CHECK_FAILED';

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
    // Not an API envelope, so no contract code: the log line and error metric still name it.
    setErrorCode(res, HEALTH_CHECK_FAILED);
    res.status(HttpStatus.SERVICE_UNAVAILABLE).json(exception.payload);
  }
}
