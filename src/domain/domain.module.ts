import { Module } from '@nestjs/common';
import { IdempotencyModule } from '../idempotency/idempotency.module.js';
import { LotsController } from './lots/lots.controller.js';
import { LotsService } from './lots/lots.service.js';
import { ReportCacheUpdater } from './reports/report-cache.updater.js';
import { ReportsController } from './reports/reports.controller.js';
import { ReportsService } from './reports/reports.service.js';
import { WipSummaryStore } from './reports/wip-summary.store.js';

@Module({
  imports: [IdempotencyModule],
  controllers: [ReportsController, LotsController],
  providers: [ReportsService, LotsService, WipSummaryStore, ReportCacheUpdater],
  exports: [ReportsService, ReportCacheUpdater],
})
export class DomainModule {}
