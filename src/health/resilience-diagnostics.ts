import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { RampartConfig } from '../config/rampart-config.js';
import { PoolManager } from '../database/pool-manager.js';
import { AdmissionController } from '../resilience/admission/admission-controller.js';
import { BreakerService, type BreakerState, MAIN_DB_BREAKER } from '../resilience/breaker.service.js';
import { EventLoopLagMonitor } from '../core/event-loop-lag.monitor.js';
import { type Recommendation, recommend } from './recommendation.js';
import { RestartPolicySource, type RestartPolicyView } from './restart-policy.source.js';

/** Saturation at which, with waiters, the pool is past throttling; fixed by CONTRACT.md. */
export const POOL_SATURATION_RECOVER = 1.0;

export interface ResilienceBlock {
  thresholds: {
    poolSaturationThrottle: number;
    poolSaturationRecover: number;
    breakerFailureRate: number;
    eventLoopLagMs: number;
    restartChurnMax: number;
    restartChurnWindowS: number;
  };
  /** The main (request) pool; `size` is its ceiling, the denominator of `saturation`. */
  pool: { size: number; inUse: number; idle: number; waiting: number; saturation: number };
  breaker: { state: BreakerState; failureRate: number; retryAfterMs: number | null };
  /** Admission control: the current limit (null when off), requests in flight, share refused over the last second. */
  load: { limit: number | null; inFlight: number; shedRate: number };
  recommendation: Recommendation;
  policy: RestartPolicyView;
}

/** The `resilience` block of `/health` and `/health/deep`: in-process reads only, never I/O. */
@Injectable()
export class ResilienceDiagnostics {
  private readonly thresholds: ResilienceBlock['thresholds'];

  constructor(
    config: ConfigService<RampartConfig, true>,
    private readonly pool: PoolManager,
    @Inject(MAIN_DB_BREAKER) private readonly breaker: BreakerService,
    private readonly eventLoop: EventLoopLagMonitor,
    private readonly restartPolicy: RestartPolicySource,
    private readonly admission: AdmissionController,
  ) {
    const health = config.get('health', { infer: true });
    const cluster = config.get('cluster', { infer: true });
    this.thresholds = {
      poolSaturationThrottle: health.throttleSaturation,
      poolSaturationRecover: POOL_SATURATION_RECOVER,
      breakerFailureRate: config.get('resilience', { infer: true }).breaker.failureRate,
      eventLoopLagMs: health.eventLoopLagMs,
      restartChurnMax: cluster.churnMax,
      restartChurnWindowS: cluster.churnWindowS,
    };
  }

  build(): ResilienceBlock {
    const stats = this.pool.stats();
    const breaker = this.breaker.snapshot();
    const lag = this.eventLoop.current();
    const policy = this.restartPolicy.current();
    const load = this.admission.snapshot();
    return {
      thresholds: { ...this.thresholds },
      pool: { size: stats.max, inUse: stats.inUse, idle: stats.idle, waiting: stats.waiting, saturation: stats.saturation },
      breaker: { state: breaker.state, failureRate: Math.round(breaker.failureRate * 1000) / 1000, retryAfterMs: breaker.retryAfterMs },
      load: { limit: load.limit, inFlight: load.inFlight, shedRate: load.shedRate },
      recommendation: recommend(
        { saturation: stats.saturation, waiting: stats.waiting, breakerState: breaker.state, eventLoopLagMs: lag.lagMs, shedding: load.shedding },
        this.thresholds,
      ),
      policy,
    };
  }
}
