import { describe, expect, it } from 'vitest';
import { expectPromisesKept, runScenario, scaled, SCENARIO_TIMEOUT_MS } from './support/scenario.js';

interface RecycleStatus {
  workers: Array<{ slot: number; pid: number | null; state: string; rssBytes?: number }>;
  history: Array<{ kind: string; planned: boolean; slot: number | null; reason: string }>;
  policy: { state: string; restartsInWindow: number; plannedInWindow: number };
}

/*
 * Worker recycling (WORKER_MAX_RSS_MB) under load. A limit of 1 MB trips for every worker as
 * soon as it has been ready WORKER_RECYCLE_MIN_UPTIME_S, so the supervisor keeps recycling,
 * one slot at a time, through the rolling-restart path, while 30 keep-alive users browse and
 * write. The promise is the rollout's: zero failed requests (2xx only, or the contract's 503
 * SHUTTING_DOWN), every write accounted for, recycles recorded as planned, never two at once.
 * Users retry a request that got no answer on an idle keep-alive socket the draining worker
 * closed at that instant (inherent to HTTP/1.1, see rolling-restart-load.test.ts).
 */
describe('chaos: worker recycling over WORKER_MAX_RSS_MB under 30 keep-alive users (WORKERS=2)', () => {
  it('a worker over WORKER_MAX_RSS_MB is replaced with zero failed requests, one at a time, as a planned restart', async () => {
    const wanted = scaled(2, 6);
    let peakWorkers = 0;
    let last: RecycleStatus | null = null;
    const result = await runScenario({
      name: 'worker-recycle-rss',
      fault: `WORKER_MAX_RSS_MB=1: ${wanted} recycles under load`,
      workers: 2,
      users: 30,
      accounts: 6,
      env: { WORKER_MAX_RSS_MB: '1', WORKER_RECYCLE_MIN_UPTIME_S: '2' },
      load: { pauseMs: 200, retryWrites: true, retryReads: true },
      warmupMs: 500,
      timeline: async (ctx) => {
        const startedAt = Date.now();
        const deadline = startedAt + 60_000;
        while (Date.now() < deadline) {
          peakWorkers = Math.max(peakWorkers, ctx.workerPids().length);
          const status = (await ctx.workerStatus().catch(() => null)) as unknown as RecycleStatus | null;
          if (status) last = status;
          if (status && status.history.filter((h) => h.kind === 'recycle').length >= wanted) break;
          await ctx.sleep(100);
        }
        ctx.recordFault('recycling', startedAt, Date.now());
        ctx.measure('recycles', last?.history.filter((h) => h.kind === 'recycle').length ?? 0);
        ctx.measure('peakWorkers', peakWorkers);
        ctx.healed();
      },
    });
    expectPromisesKept(result);
    const status = last as RecycleStatus | null;
    expect(status).not.toBeNull();
    const recycles = status!.history.filter((h) => h.kind === 'recycle');
    expect(recycles.length).toBeGreaterThanOrEqual(wanted);
    for (const entry of recycles) {
      expect(entry.planned).toBe(true);
      expect(entry.reason).toMatch(/^recycle: rss \d+ MB over WORKER_MAX_RSS_MB 1$/);
    }
    // Planned: none of them counts toward churn.
    expect(status!.policy.restartsInWindow).toBe(0);
    expect(status!.policy.state).toBe('allowed');
    // One at a time: two workers plus one replacement at most, never both slots at once.
    expect(peakWorkers).toBeGreaterThanOrEqual(2);
    expect(peakWorkers).toBeLessThanOrEqual(3);
    // No error answer: 2xx only, or the contract's 503 SHUTTING_DOWN.
    const failed = Object.entries(result.statuses).filter(([code]) => code !== '0' && !code.startsWith('2') && code !== '503');
    expect(failed, JSON.stringify(result.codes)).toEqual([]);
    expect(result.statuses['503'] ?? 0).toBe(result.codes.SHUTTING_DOWN ?? 0);
    expect(result.failedOperations - (result.codes.SHUTTING_DOWN ?? 0)).toBeLessThanOrEqual(0);
    expect(result.writes.acknowledged).toBe(result.writes.total);
  }, SCENARIO_TIMEOUT_MS);
});
