import { Injectable } from '@nestjs/common';

/**
 * Rejections per policy, counted in-process. The Prometheus exporter reads `snapshot()` and
 * publishes it as `rampart_rate_limit_rejections_total{limit}`.
 */
@Injectable()
export class RateLimitMetrics {
  private readonly rejections = new Map<string, number>();
  private storeFailures = 0;

  rejected(limitName: string): void {
    this.rejections.set(limitName, (this.rejections.get(limitName) ?? 0) + 1);
  }

  /** The counter store (Redis) failed and the request was let through. */
  storeFailed(): void {
    this.storeFailures += 1;
  }

  snapshot(): { rejections: ReadonlyMap<string, number>; storeFailures: number } {
    return { rejections: new Map(this.rejections), storeFailures: this.storeFailures };
  }
}
