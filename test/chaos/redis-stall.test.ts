import { describe, expect, it } from 'vitest';
import { expectPromisesKept, runScenario, scaled, SCENARIO_TIMEOUT_MS } from './support/scenario.js';

/*
 * Redis stops answering (every byte held, delivered in order on heal). Requests must not hang
 * with it: they fail closed with 503 SESSION_STORE_UNAVAILABLE within the Redis command bound,
 * and service is back within 5 s once Redis answers.
 *
 * Pending fix this may need (not on this branch): chaos/redis (REDIS_SOCKET_TIMEOUT_MS and the
 * PING heartbeat bound how long a command may wait on a silent Redis).
 */
describe('chaos: Redis stall, then heal (WORKERS=1)', () => {
  it('answers with contract codes within a bound during the stall, loses and doubles nothing, recovers within 5 s', async () => {
    const result = await runScenario({
      name: 'redis-stall',
      fault: 'Redis stalled: all bytes held, delivered in order on heal',
      workers: 1,
      users: 8,
      ownRedis: true,
      load: { retryWrites: true },
      timeline: async (ctx) => {
        const redis = ctx.redis!;
        await ctx.fault('redis stall', scaled(5000, 15_000), () => redis.stall(), () => redis.pass());
      },
    });
    expectPromisesKept(result);
    // No request waited out the whole stall: the app answered (503) within its own bound.
    expect(result.faultLatency.max).toBeLessThan(scaled(5000, 15_000));
  }, SCENARIO_TIMEOUT_MS);
});
