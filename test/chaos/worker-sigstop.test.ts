import { describe, expect, it } from 'vitest';
import { expectPromisesKept, isAlive, runScenario, scaled, SCENARIO_TIMEOUT_MS } from './support/scenario.js';

/*
 * A worker frozen by SIGSTOP (a debugger, a stuck cgroup, a VM pause) sends no heartbeat and
 * answers nothing, yet the primary keeps handing it connections. The supervisor's watchdog
 * (WATCHDOG_TIMEOUT_MS without a heartbeat) must retire it and put a fresh worker in its slot;
 * users see a blip bounded by that timeout. A SIGCONT arriving after the watchdog acted (the
 * operator resumes it) must not bring back a third worker or disturb anything.
 */
const WATCHDOG_TIMEOUT_MS = 3000;

describe('chaos: SIGSTOP a worker (WORKERS=2)', () => {
  it('the watchdog replaces it within its timeout, users see a bounded blip, SIGCONT afterwards is harmless', async () => {
    const result = await runScenario({
      name: 'worker-sigstop',
      fault: 'SIGSTOP one worker, SIGCONT once the watchdog acted',
      workers: 2,
      users: 8,
      env: { WATCHDOG_TIMEOUT_MS: String(WATCHDOG_TIMEOUT_MS), WATCHDOG_LAG_MS: '1000', WATCHDOG_LAG_BEATS: '3' },
      timeline: async (ctx) => {
        const before = ctx.workerPids();
        expect(before).toHaveLength(2);
        const victim = before[0]!;
        const stoppedAt = Date.now();
        process.kill(victim, 'SIGSTOP');
        // Held longer under CHAOS_FULL only if the watchdog is slow; it is the watchdog that ends this fault.
        let forkedAt: number | null = null;
        let goneAt: number | null = null;
        let resumed = false;
        const deadline = stoppedAt + WATCHDOG_TIMEOUT_MS + scaled(10_000, 20_000);
        while (Date.now() < deadline && goneAt === null) {
          if (forkedAt === null && ctx.workerPids().some((pid) => !before.includes(pid))) forkedAt = Date.now();
          if (forkedAt !== null && !resumed) {
            // Resume it while the supervisor retires it (or just after it killed it).
            if (isAlive(victim)) process.kill(victim, 'SIGCONT');
            resumed = true;
          }
          if (!isAlive(victim)) goneAt = Date.now();
          await ctx.sleep(20);
        }
        if (goneAt === null && isAlive(victim)) process.kill(victim, 'SIGCONT');
        ctx.recordFault('worker SIGSTOPped', stoppedAt, goneAt ?? Date.now());
        ctx.healed(goneAt ?? Date.now());
        ctx.measure('replacementForkedMs', forkedAt === null ? null : forkedAt - stoppedAt);
        ctx.measure('stoppedWorkerGoneMs', goneAt === null ? null : goneAt - stoppedAt);
        ctx.check(
          `stopped worker retired within WATCHDOG_TIMEOUT_MS + 3 s (${WATCHDOG_TIMEOUT_MS + 3000} ms)`,
          goneAt !== null && goneAt - stoppedAt <= WATCHDOG_TIMEOUT_MS + 3000,
          goneAt === null ? 'still alive' : `${goneAt - stoppedAt} ms`,
        );
        const ready = await ctx.waitForStatus((s) => s.workers.filter((w) => w.state === 'ready').length === 2, 20_000);
        ctx.measure('twoReadyAgainMs', ready ? Date.now() - stoppedAt : null);
        ctx.check('two ready workers again, the stopped one not among them', ready !== null && !ready.workers.some((w) => w.pid === victim), JSON.stringify(ready?.workers ?? null));
        // SIGCONT was harmless: no third worker appears and nobody else dies over the next moments.
        await ctx.sleep(scaled(1500, 5000));
        const after = ctx.workerPids();
        ctx.check('exactly two workers after SIGCONT', after.length === 2 && !after.includes(victim), `pids ${after.join(',')}`);
      },
    });
    expectPromisesKept(result);
    // The blip is bounded: no request waited much longer than the watchdog needed.
    expect(result.faultLatency.max).toBeLessThanOrEqual(WATCHDOG_TIMEOUT_MS + 3000);
    expect(result.longestGapMs).toBeLessThanOrEqual(WATCHDOG_TIMEOUT_MS + 3000);
  }, SCENARIO_TIMEOUT_MS);
});
