import { describe, expect, it } from 'vitest';
import { expectPromisesKept, runScenario, scaled, SCENARIO_TIMEOUT_MS } from './support/scenario.js';

/*
 * kill -9 of a worker (OOM killer, a bug in a native module), three times a few seconds apart,
 * while users write and retry their writes with the same Idempotency-Key (as libs/api-client
 * does after a reset connection). Each kill takes the newest worker, ready or still starting (a
 * crash loop in one slot); the other worker keeps serving throughout. Afterwards every
 * acknowledged write is in the database exactly once and both slots are filled again.
 *
 * The churn policy is tuned to the test's time scale (cooldown 1 s, threshold 10): this
 * scenario is about crash recovery and write safety, not the policy (chaos/cluster owns that).
 * A retried write whose first attempt committed just before the kill needs the idempotency fix
 * (chaos/writes) not to be stored twice.
 */
const KILLS = 3;
/** Longest time users may go without any successful answer while one worker is untouched. */
const MAX_GAP_MS = 3000;

describe('chaos: kill -9 a worker repeatedly under load (WORKERS=2)', () => {
  it('service continues, every acknowledged write is present once, both slots are refilled', async () => {
    const result = await runScenario({
      name: 'worker-kill9-repeated',
      fault: `kill -9 the newest worker ${KILLS} times`,
      workers: 2,
      users: 8,
      env: { RESTART_COOLDOWN_S: '1', RESTART_CHURN_MAX: '10' },
      load: { retryWrites: true },
      timeline: async (ctx) => {
        const survivor = Math.min(...ctx.workerPids());
        let lastKillAt = Date.now();
        for (let i = 0; i < KILLS; i += 1) {
          // The newest worker other than the survivor; its replacement may still be starting.
          const victims = ctx.workerPids().filter((pid) => pid !== survivor);
          let victim = victims.length > 0 ? Math.max(...victims) : null;
          const waitUntil = Date.now() + 15_000;
          while (victim === null && Date.now() < waitUntil) {
            await ctx.sleep(50);
            const next = ctx.workerPids().filter((pid) => pid !== survivor);
            victim = next.length > 0 ? Math.max(...next) : null;
          }
          ctx.check(`a worker to kill (kill ${i + 1})`, victim !== null);
          if (victim === null) break;
          ctx.intendExit(victim);
          const killedAt = Date.now();
          lastKillAt = killedAt;
          process.kill(victim, 'SIGKILL');
          ctx.recordFault(`kill -9 #${i + 1}`, killedAt, killedAt);
          ctx.healed(killedAt);
          await ctx.sleep(scaled(2500, 10_000));
        }
        ctx.check('the untouched worker survived', ctx.workerPids().includes(survivor));
        const final = await ctx.waitForStatus((s) => s.workers.filter((w) => w.state === 'ready').length === 2, 20_000);
        ctx.measure('twoReadyAfterLastKillMs', final ? Date.now() - lastKillAt : null);
        ctx.check('both slots ready again', final !== null, JSON.stringify(final?.workers ?? null));
      },
    });
    expectPromisesKept(result);
    expect(result.longestGapMs).toBeLessThanOrEqual(MAX_GAP_MS);
  }, SCENARIO_TIMEOUT_MS);
});
