import { describe, expect, it } from 'vitest';
import { expectPromisesKept, runScenario, scaled, SCENARIO_TIMEOUT_MS } from './support/scenario.js';

/*
 * Redis (sessions, rate-limit counters) goes away loudly: its connections are reset and new
 * ones refused for a few seconds, then it is back with its data (a failover to a replica, a
 * restart with persistence). Sessions fail closed with 503 SESSION_STORE_UNAVAILABLE meanwhile,
 * never a 500, and the same sessions work again within 5 s once Redis answers.
 */
describe('chaos: Redis refuse + reset, then heal (WORKERS=2)', () => {
  it('no process exits, every answer has a contract code, nothing lost or doubled, back within 5 s', async () => {
    const result = await runScenario({
      name: 'redis-refuse-reset',
      fault: 'Redis: open connections reset, new ones refused',
      workers: 2,
      users: 8,
      ownRedis: true,
      load: { retryWrites: true },
      timeline: async (ctx) => {
        const redis = ctx.redis!;
        await ctx.fault(
          'redis refuse + reset',
          scaled(3000, 15_000),
          async () => {
            redis.refuse();
            redis.resetAll();
            await ctx.sleep(200);
            redis.resetAll();
          },
          () => redis.pass(),
        );
      },
    });
    expectPromisesKept(result);
    expect(result.codes.SESSION_STORE_UNAVAILABLE ?? 0, JSON.stringify(result.codes)).toBeGreaterThan(0);
  }, SCENARIO_TIMEOUT_MS);
});
