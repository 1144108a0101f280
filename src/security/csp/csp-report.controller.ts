import { Body, Controller, HttpCode, Post, Req } from '@nestjs/common';
import { ApiNoContentResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { Public } from '../../auth/auth.decorators.js';
import { ApiErrorResponses } from '../../core/openapi.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { CspReportLog } from './csp-report.service.js';

/** Where browsers POST CSP violations (`report-uri` and `Reporting-Endpoints`). No session, no CSRF token. */
@ApiTags('security')
@ApiErrorResponses()
@Controller()
export class CspReportController {
  constructor(private readonly reports: CspReportLog) {}

  @Post('csp-report')
  @Public()
  @RateLimit('csp-report')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Logged; nothing is stored' })
  receive(@Body() body: unknown, @Req() req: Request): void {
    this.reports.record(req, body);
  }
}
