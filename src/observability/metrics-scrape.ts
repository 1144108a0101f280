import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { RampartConfig } from '../config/rampart-config.js';
import { RUNTIME, type Runtime } from '../runtime.js';
import { MetricsService } from './metrics.service.js';

/**
 * What one scrape returns: this worker's registry alone, or, under the cluster supervisor,
 * every worker's aggregated by the primary (a scrape lands on one worker at random, so a
 * per-worker answer would make counters jump between workers).
 */
@Injectable()
export class MetricsScrape {
  readonly token: string | null;

  constructor(
    private readonly metrics: MetricsService,
    @Inject(RUNTIME) private readonly runtime: Runtime,
    config: ConfigService<RampartConfig, true>,
  ) {
    this.token = config.get('security', { infer: true }).metricsToken;
  }

  async collect(): Promise<{ contentType: string; body: string }> {
    const channel = this.runtime.channel;
    if (channel.mode === 'cluster') {
      return { contentType: this.metrics.registry.contentType, body: await channel.requestMetrics() };
    }
    return { contentType: this.metrics.registry.contentType, body: await this.metrics.metrics() };
  }
}
