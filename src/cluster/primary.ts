import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { RampartConfig } from '../config/rampart-config.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../database/embedded-postgres.js';
import { allocatorEnvFor } from './allocator-env.js';
import type { LogLine } from './protocol.js';
import { Supervisor } from './supervisor.js';

const POLICY_VALUE = { allowed: 0, cooling_down: 1, blocked: 2 } as const;

/**
 * The cluster primary (WORKERS > 1): owns what must exist once per machine (the embedded
 * PostgreSQL, the development session secret), forks the workers on one shared port and
 * aggregates their metrics. It serves no requests itself.
 */
export async function runPrimary(
  config: RampartConfig,
  env: Record<string, string | undefined>,
  logger: Logger,
  /** Removes main's startup signal holders; returns a signal that arrived meanwhile. */
  releaseSignals: () => NodeJS.Signals | null,
  /** The primary's recent warn/error lines, for the console. */
  recentLogs: () => LogLine[] = () => [],
): Promise<'running' | 'stopped'> {
  // The primary cannot change its own allocator, but it starts the workers (allocator-env.ts).
  const workerEnv: Record<string, string> = { ...allocatorEnvFor(env) };
  let embedded: EmbeddedDatabase | null = null;
  if (!config.database.url) {
    embedded = await startEmbeddedPostgres({ dataDir: config.app.dataDir, port: config.database.embeddedPort, logger });
    workerEnv.DATABASE_URL = embedded.url;
  }
  // Workers must agree on the secret, or a session cookie signed by one is rejected by the next.
  if (!env.SESSION_SECRET) workerEnv.SESSION_SECRET = randomBytes(48).toString('base64url');

  const registry = new Registry();
  const aggregator = new AggregatorRegistry();
  const restarts = new Counter({ name: 'rampart_worker_restarts_total', help: 'Worker replacements by kind (rolling, watchdog, crash, recycle)', labelNames: ['reason'], registers: [registry] });
  for (const reason of ['rolling', 'watchdog', 'crash', 'recycle']) restarts.inc({ reason }, 0);

  const supervisor: Supervisor = new Supervisor({
    workers: config.cluster.workers,
    exec: fileURLToPath(new URL('../main.js', import.meta.url)),
    env: workerEnv,
    readyTimeoutMs: config.cluster.readyTimeoutMs,
    drainTimeoutMs: config.resilience.shutdown.timeoutMs + 1000,
    watchdogTimeoutMs: config.cluster.watchdogTimeoutMs,
    lagThresholdMs: config.cluster.watchdogLagMs,
    lagBeats: config.cluster.watchdogLagBeats,
    churnWindowS: config.cluster.churnWindowS,
    churnMax: config.cluster.churnMax,
    cooldownS: config.cluster.cooldownS,
    blockedMaxWaitMs: config.cluster.blockedMaxWaitS * 1000,
    stopDrainDelayMs: config.resilience.shutdown.drainDelayMs,
    crashBackoffBaseMs: 500,
    crashBackoffMaxMs: 30_000,
    maxRssBytes: config.cluster.maxRssMb * 1024 * 1024,
    maxRequests: config.cluster.maxRequests,
    recycleMinUptimeMs: config.cluster.recycleMinUptimeS * 1000,
    logger: {
      info: (obj, msg) => logger.info({ component: 'supervisor', ...obj }, msg),
      warn: (obj, msg) => logger.warn({ component: 'supervisor', ...obj }, msg),
      error: (obj, msg) => logger.error({ component: 'supervisor', ...obj }, msg),
    },
    onRestart: (kind) => restarts.inc({ reason: kind }),
    recentLogs,
    onLogLevel: (level) => {
      logger.level = level ?? config.app.logLevel;
    },
    collectMetrics: async () => `${await aggregator.clusterMetrics()}\n${await registry.metrics()}`,
    exit: (code) => {
      void (async () => {
        await embedded?.stop().catch((error: unknown) => logger.error({ err: error }, 'embedded PostgreSQL did not stop cleanly'));
        await new Promise<void>((resolve) => logger.flush(() => resolve()));
        process.exit(code);
      })();
    },
  });
  new Gauge({
    name: 'rampart_restart_policy_state',
    help: 'Restart churn policy: 0 allowed, 1 cooling_down, 2 blocked',
    registers: [registry],
    collect() {
      this.set(POLICY_VALUE[supervisor.status().policy.state]);
    },
  });
  new Gauge({
    name: 'rampart_workers',
    help: 'Worker processes by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const counts: Record<string, number> = { starting: 0, ready: 0, draining: 0, stopped: 0 };
      for (const worker of supervisor.status().workers) counts[worker.state] = (counts[worker.state] ?? 0) + 1;
      for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
    },
  });
  // start() installs the supervisor's own handlers synchronously, so no signal falls between.
  const held = releaseSignals();
  if (held) {
    logger.info({ signal: held }, `${held} during startup: stopping before any worker starts`);
    await embedded?.stop();
    return 'stopped';
  }
  let started: { ready: number; failed: number };
  try {
    started = await supervisor.start();
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  if (started.ready === 0) {
    await supervisor.stop();
    await embedded?.stop();
    throw new Error(`no worker became ready (${started.failed} failed); see the worker log lines above`);
  }
  logger.info({ workers: started.ready, failed: started.failed, pid: process.pid }, 'cluster primary ready: SIGHUP for a rolling restart, SIGTERM to stop');
  return 'running';
}
