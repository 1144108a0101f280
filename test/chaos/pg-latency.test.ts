import { describe, expect, it } from 'vitest';
import { expectPromisesKept, runScenario, scaled, SCENARIO_TIMEOUT_MS } from './support/scenario.js';

/*
 * A slow network to PostgreSQL (+200 ms each way on every chunk): nothing fails, it is only
 * slower. Every request must still answer 2xx; the p99 under the fault is the figure to watch.
 */
describe('chaos: PostgreSQL +200 ms latency under load', () => {
  it('answers every request, loses and doubles nothing, and is back to normal speed at once', async () => {
    const result = await runScenario({
      name: 'pg-latency-200ms',
      fault: 'PostgreSQL +200 ms per chunk each way',
      workers: 1,
      users: 8,
      timeline: async (ctx) => {
        await ctx.fault('pg +200 ms', scaled(5000, 30_000), () => ctx.pg.latency(200), () => ctx.pg.latency(0));
      },
    });
    expectPromisesKept(result);
    // Latency alone is no reason to fail a request: every answer of the run is a 2xx.
    const non2xx = Object.entries(result.statuses).filter(([status]) => !status.startsWith('2'));
    expect(non2xx, JSON.stringify(result.codes)).toEqual([]);
    expect(result.fetchErrors).toEqual({});
    // The fault was felt (or the scenario measured nothing).
    expect(result.faultLatency.p99).toBeGreaterThanOrEqual(400);
  }, SCENARIO_TIMEOUT_MS);
});
