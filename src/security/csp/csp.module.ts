import { Module } from '@nestjs/common';
import { CspReportController } from './csp-report.controller.js';
import { CspReportLog } from './csp-report.service.js';

/** The CSP report endpoint; the headers themselves are Express middleware (see bootstrap). */
@Module({
  controllers: [CspReportController],
  providers: [CspReportLog],
})
export class CspModule {}
