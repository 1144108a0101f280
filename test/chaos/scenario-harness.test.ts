import { describe, expect, it } from 'vitest';
import { runScenario, SCENARIO_TIMEOUT_MS } from './support/scenario.js';

/*
 * The harness's standard checks are what every scenario trusts, so each must be seen to fail:
 * a note deleted behind the users' backs (an acknowledged write missing), a note copied (stored
 * twice), and a worker and then the primary killed without the scenario declaring it
 * (unintended exits: the worker's is known from the supervisor's `worker exited unexpectedly`
 * log line, so a change of that line fails here; after the primary's, service never recovers).
 */
describe('chaos scenario harness', () => {
  it('reports a missing acknowledged write, a duplicate, an unintended exit and a failed recovery', async () => {
    const result = await runScenario({
      name: 'harness-self-check',
      fault: 'the harness breaks its own promises on purpose',
      workers: 2,
      users: 2,
      warmupMs: 1500,
      tailMs: 0,
      record: false,
      timeline: async (ctx) => {
        const notes = await ctx.db.query<{ id: string }>(`SELECT id FROM lot_notes WHERE text LIKE $1 ORDER BY id LIMIT 2`, [`${ctx.load.notePrefix}%`]);
        expect(notes).toHaveLength(2);
        await ctx.db.query('DELETE FROM lot_notes WHERE id = $1', [notes[0]!.id]);
        await ctx.db.query('INSERT INTO lot_notes (lot_id, author_id, text) SELECT lot_id, author_id, text FROM lot_notes WHERE id = $1', [notes[1]!.id]);
        const worker = ctx.workerPids()[0]!;
        process.kill(worker, 'SIGKILL');
        await ctx.sleep(500);
        ctx.healed();
        process.kill(ctx.app.pid, 'SIGKILL');
        await ctx.app.exited;
      },
    });
    const failed = result.checks.filter((c) => !c.ok).map((c) => c.name);
    expect(failed).toEqual([
      'no unintended process exit',
      'no acknowledged write missing',
      'no write stored twice',
      'recovery within 5000 ms of the fault clearing',
    ]);
    expect(result.passed).toBe(false);
    expect(result.exits.unintended.some((line) => line.startsWith('worker '))).toBe(true);
    expect(result.exits.unintended.some((line) => line.startsWith('app '))).toBe(true);
    expect(result.recoveryMs).toBeNull();
    // The outage lasted from the kill to the end of the load (the recovery wait, 8 s).
    expect(result.longestGapMs).toBeGreaterThanOrEqual(5000);
  }, SCENARIO_TIMEOUT_MS);
});
