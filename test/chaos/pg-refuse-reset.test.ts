import { describe, expect, it } from 'vitest';
import { expectPromisesKept, runScenario, scaled, SCENARIO_TIMEOUT_MS } from './support/scenario.js';

/*
 * PostgreSQL goes away loudly: every open connection is reset (RST) and new ones are refused for
 * a few seconds, then it is back. WORKERS=2, so a crash takes capacity from a cluster.
 *
 * Pending fix this scenario needs (not on this branch): chaos/db (db-reset: every pg client
 * handles 'error' for its whole life). Without it the first reset kills the workers with an
 * unhandled 'error' event on a pg Client. Writes retried with the same key also need chaos/writes.
 */
describe('chaos: PostgreSQL refuse + reset, then heal (WORKERS=2)', () => {
  it('no process exits, every answer has a contract code, nothing lost or doubled, back within 5 s', async () => {
    const result = await runScenario({
      name: 'pg-refuse-reset',
      fault: 'PostgreSQL: open connections reset, new ones refused',
      workers: 2,
      users: 8,
      load: { retryWrites: true },
      timeline: async (ctx) => {
        await ctx.fault(
          'pg refuse + reset',
          scaled(3000, 15_000),
          async () => {
            ctx.pg.refuse();
            ctx.pg.resetAll();
            // Connections opened between the two calls, and pools reconnecting: reset again.
            await ctx.sleep(200);
            ctx.pg.resetAll();
          },
          () => ctx.pg.pass(),
        );
      },
    });
    expectPromisesKept(result);
    // The fault reached requests: they were answered with the contract's database codes.
    expect(Object.keys(result.codes).some((code) => code.startsWith('DB_')), JSON.stringify(result.codes)).toBe(true);
  }, SCENARIO_TIMEOUT_MS);
});
