import { describe, expect, it } from 'vitest';
import { recommend, type RecommendationInput } from './recommendation.js';

const thresholds = { poolSaturationThrottle: 0.8, poolSaturationRecover: 1.0, eventLoopLagMs: 200 };
const calm: RecommendationInput = { saturation: 0.1, waiting: 0, breakerState: 'closed', eventLoopLagMs: 3 };

describe(recommend.name, () => {
  it('observes when the pool, breaker and event loop are all within limits', () => {
    expect(recommend(calm, thresholds)).toBe('observe');
    expect(recommend({ ...calm, saturation: 0.79 }, thresholds)).toBe('observe');
  });

  it('recovers when the breaker is open, whatever the pool says', () => {
    expect(recommend({ ...calm, breakerState: 'open' }, thresholds)).toBe('recover');
  });

  it('recovers when the pool is full and requests wait for it', () => {
    expect(recommend({ ...calm, saturation: 1, waiting: 3 }, thresholds)).toBe('recover');
  });

  it('throttles a full pool nobody waits for yet', () => {
    expect(recommend({ ...calm, saturation: 1, waiting: 0 }, thresholds)).toBe('throttle');
  });

  it('throttles at the saturation threshold, with waiters, half-open, or past the lag limit', () => {
    expect(recommend({ ...calm, saturation: 0.8 }, thresholds)).toBe('throttle');
    expect(recommend({ ...calm, waiting: 1 }, thresholds)).toBe('throttle');
    expect(recommend({ ...calm, breakerState: 'half_open' }, thresholds)).toBe('throttle');
    expect(recommend({ ...calm, eventLoopLagMs: 201 }, thresholds)).toBe('throttle');
    expect(recommend({ ...calm, eventLoopLagMs: 200 }, thresholds)).toBe('observe');
  });

  it('throttles while admission control sheds load', () => {
    expect(recommend({ ...calm, shedding: true }, thresholds)).toBe('throttle');
    expect(recommend({ ...calm, shedding: false }, thresholds)).toBe('observe');
  });
});
