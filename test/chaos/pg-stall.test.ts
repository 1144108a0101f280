import { describe, it } from 'vitest';
import { expectPromisesKept, runScenario, scaled, SCENARIO_TIMEOUT_MS } from './support/scenario.js';

/*
 * PostgreSQL stops answering (a partition: every byte of every connection, old and new, is
 * held) for longer than DB_QUERY_TIMEOUT_MS, then the held bytes arrive in order, as TCP
 * delivers them after a partition heals. Users retry writes with the same Idempotency-Key, as
 * libs/api-client does.
 *
 * Pending fixes this scenario needs (not on this branch): the idempotent write path and
 * explicit-transaction commit point (chaos/writes: a retried key must never store twice, a
 * timed-out write is rolled back) and the breaker that follows recovery (chaos/writes:
 * db-outage-breaker, or every request stays DB_CIRCUIT_OPEN past the 5 s recovery bound).
 */
describe('chaos: PostgreSQL stall (reads and writes), then heal', () => {
  it('answers with contract codes during the stall, loses and doubles nothing, recovers within 5 s', async () => {
    const result = await runScenario({
      name: 'pg-stall',
      fault: 'PostgreSQL stalled: all bytes held, delivered in order on heal',
      workers: 1,
      users: 8,
      env: { DB_QUERY_TIMEOUT_MS: '2000' },
      load: { retryWrites: true },
      timeline: async (ctx) => {
        await ctx.fault('pg stall', scaled(4000, 15_000), () => ctx.pg.stall(), () => ctx.pg.pass());
      },
    });
    expectPromisesKept(result);
  }, SCENARIO_TIMEOUT_MS);
});
