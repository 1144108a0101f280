import { Module } from '@nestjs/common';
import { MetricsController } from './metrics.controller.js';
import { MetricsScrape } from './metrics-scrape.js';
import { MetricsService } from './metrics.service.js';

/** The request timer itself is installed by bootstrap, ahead of body parsing, so 400/413s count too. */
@Module({
  controllers: [MetricsController],
  providers: [MetricsService, MetricsScrape],
  exports: [MetricsService],
})
export class MetricsModule {}
