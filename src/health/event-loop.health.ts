import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { type HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import type { RampartConfig } from '../config/rampart-config.js';
import { EventLoopLagMonitor } from '../core/event-loop-lag.monitor.js';
import { HEALTH_KEYS } from './health.constants.js';

/** The process's own responsiveness: the only thing liveness depends on. */
@Injectable()
export class EventLoopHealthIndicator {
  private readonly thresholdMs: number;

  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly monitor: EventLoopLagMonitor,
    config: ConfigService<RampartConfig, true>,
  ) {
    this.thresholdMs = config.get('health', { infer: true }).eventLoopLagMs;
  }

  /**
   * `overLimit` says what lag past the threshold means here: `down` for liveness (restart a
   * wedged worker), `degraded` for the diagnostic endpoints, which are not probes.
   */
  check(overLimit: 'down' | 'degraded'): HealthIndicatorResult<typeof HEALTH_KEYS.eventLoop> {
    const session = this.indicators.check(HEALTH_KEYS.eventLoop);
    const lag = this.monitor.current();
    const data = { lagMs: lag.lagMs, maxLagMs: lag.maxLagMs, windowMs: lag.windowMs, thresholdMs: this.thresholdMs };
    if (lag.lagMs <= this.thresholdMs) return session.up(data);
    return overLimit === 'down' ? session.down(data) : session.degraded(data);
  }
}
