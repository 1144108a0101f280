import net from 'node:net';
import { describe, it } from 'vitest';
import { expectPromisesKept, isAlive, runScenario, scaled, SCENARIO_TIMEOUT_MS } from './support/scenario.js';

/*
 * kill -9 of the cluster primary (OOM killer picks it, an operator's kill -9). Its workers must
 * not linger as orphans serving requests or holding the port: systemd restarts the service on
 * the same port right away, and that fresh start must work, with the users' sessions intact
 * (they live in Redis; SESSION_SECRET is configured, as in production).
 *
 * Writes in flight at the kill may be committed without an answer; users retry them with the
 * same Idempotency-Key once the port answers again. Pending fix this needs (not on this branch):
 * chaos/writes (the server honours Idempotency-Key), or those retries are stored twice.
 */
/** How long orphaned workers may outlive their primary. */
const ORPHAN_BOUND_MS = 2000;

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('chaos: kill -9 the primary (WORKERS=2)', () => {
  it('no orphaned worker lingers, the port is free, and a fresh start on the same port serves at once', async () => {
    const result = await runScenario({
      name: 'primary-kill9',
      fault: 'kill -9 the cluster primary, then start it again on the same port',
      workers: 2,
      users: 8,
      load: { retryWrites: true },
      timeline: async (ctx) => {
        const primary = ctx.app.pid;
        const port = ctx.app.port;
        const workers = ctx.workerPids();
        ctx.check('two workers before the kill', workers.length === 2, `pids ${workers.join(',')}`);
        ctx.intendExit(primary);
        for (const pid of workers) ctx.intendExit(pid);
        const killedAt = Date.now();
        process.kill(primary, 'SIGKILL');
        let orphansGoneAt: number | null = null;
        let portFreeAt: number | null = null;
        const deadline = killedAt + 10_000;
        while (Date.now() < deadline && (orphansGoneAt === null || portFreeAt === null)) {
          if (orphansGoneAt === null && !workers.some(isAlive)) orphansGoneAt = Date.now();
          if (portFreeAt === null && (await refused(port))) portFreeAt = Date.now();
          await ctx.sleep(10);
        }
        ctx.measure('orphansGoneMs', orphansGoneAt === null ? null : orphansGoneAt - killedAt);
        ctx.measure('portFreeMs', portFreeAt === null ? null : portFreeAt - killedAt);
        ctx.check(
          `workers gone within ${ORPHAN_BOUND_MS} ms of the primary's death`,
          orphansGoneAt !== null && orphansGoneAt - killedAt <= ORPHAN_BOUND_MS,
          orphansGoneAt === null ? `still alive: ${workers.filter(isAlive).join(',')}` : `${orphansGoneAt - killedAt} ms`,
        );
        ctx.check(
          `port refuses connections within ${ORPHAN_BOUND_MS} ms`,
          portFreeAt !== null && portFreeAt - killedAt <= ORPHAN_BOUND_MS,
          portFreeAt === null ? 'still accepting' : `${portFreeAt - killedAt} ms`,
        );
        // systemd's Restart=always with a short RestartSec.
        await ctx.sleep(scaled(500, 5000));
        const restartAt = Date.now();
        const fresh = await ctx.startApp().catch((error: unknown) => {
          ctx.check('fresh start on the same port', false, error instanceof Error ? error.message.slice(0, 500) : String(error));
          return null;
        });
        if (!fresh) return;
        ctx.check('fresh start on the same port', fresh.port === port, `port ${fresh.port}`);
        ctx.measure('restartReadyMs', Date.now() - restartAt);
        ctx.recordFault('primary dead', killedAt, Date.now());
        ctx.healed();
      },
    });
    expectPromisesKept(result);
  }, SCENARIO_TIMEOUT_MS);
});
