import type { BreakerState } from '../resilience/breaker.service.js';

export type Recommendation = 'observe' | 'throttle' | 'recover';

export interface RecommendationThresholds {
  poolSaturationThrottle: number;
  poolSaturationRecover: number;
  eventLoopLagMs: number;
}

export interface RecommendationInput {
  saturation: number;
  waiting: number;
  breakerState: BreakerState;
  eventLoopLagMs: number;
  /** Admission control refused requests within the last second. */
  shedding?: boolean;
}

/**
 * What an operator or an autoscaler should do about this worker, from the most severe rule
 * down; the first that matches wins (the same rules are in docs-fragments/health.md):
 *
 * `recover`: the database path is failing, not merely busy.
 *   - the main-database breaker is `open`, or
 *   - pool saturation >= poolSaturationRecover (1.0) while requests wait for a connection.
 * `throttle`: close to the limit; shed or slow load before it becomes an outage.
 *   - pool saturation >= poolSaturationThrottle (HEALTH_POOL_THROTTLE_SATURATION, 0.8), or
 *   - any request is waiting for a connection, or
 *   - the breaker is `half_open` (probing; a burst now would re-open it), or
 *   - event-loop lag (the windowed mean) > eventLoopLagMs (HEALTH_EVENT_LOOP_LAG_MS), or
 *   - admission control is shedding load (answering OVERLOADED).
 * `observe`: none of the above.
 */
export function recommend(input: RecommendationInput, thresholds: RecommendationThresholds): Recommendation {
  if (input.breakerState === 'open') return 'recover';
  if (input.saturation >= thresholds.poolSaturationRecover && input.waiting > 0) return 'recover';
  if (
    input.saturation >= thresholds.poolSaturationThrottle ||
    input.waiting > 0 ||
    input.breakerState === 'half_open' ||
    input.eventLoopLagMs > thresholds.eventLoopLagMs ||
    input.shedding === true
  ) {
    return 'throttle';
  }
  return 'observe';
}
