import 'reflect-metadata';
import cluster from 'node:cluster';
import { startApp, type RunningApp } from './bootstrap.js';
import { runPrimary } from './cluster/primary.js';
import { ConfigError, loadConfig } from './config/env.js';
import { createRootLogger } from './observability/logger.js';
import { VERSION } from './version.js';

/** EX_CONFIG from sysexits.h: the configuration is wrong, restarting will not help. */
const EX_CONFIG = 78;

function configOrExit() {
  try {
    return loadConfig(process.env, VERSION);
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) process.stderr.write(`rampart: configuration error: ${problem}\n`);
      process.exit(EX_CONFIG);
    }
    throw error;
  }
}

async function worker(): Promise<void> {
  let running: RunningApp;
  try {
    running = await startApp({ env: process.env });
  } catch (error) {
    process.stderr.write(`rampart: startup failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  const exitWith = (reportPromise: ReturnType<RunningApp['close']>) =>
    void reportPromise.then(
      (report) => process.exit(report.forced ? 1 : 0),
      (error: unknown) => {
        running.logger.fatal({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );

  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      running.logger.error({ signal }, 'second signal: forcing exit');
      process.exit(1);
    }
    signalled = true;
    exitWith(running.close(signal));
  };
  // Nest's enableShutdownHooks re-raises the signal after closing (exit 143) and ignores a
  // second signal; operators need exit 0 for a clean drain and a way to force.
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  if (running.channel.mode === 'cluster') {
    // SIGHUP means "rolling restart" to the primary; a hangup sent to the whole process group
    // (a closed terminal) must not take every worker down at once.
    process.on('SIGHUP', () => running.logger.info('SIGHUP ignored by worker; the supervisor handles restarts'));
  }
  // The supervisor has already taken this worker out of rotation: no delay, and requests on
  // sockets still open are served with `Connection: close` rather than refused.
  running.channel.onShutdown(({ reason, deadlineMs }) => {
    signalled = true;
    exitWith(running.close(`supervisor: ${reason}`, { drainDelayMs: 0, serveDuringDrain: true, timeoutMs: Math.max(500, deadlineMs - 1000) }));
  });
}

async function main(): Promise<void> {
  const { config } = configOrExit();
  if (config.cluster.workers > 1 && cluster.isPrimary) {
    const logger = createRootLogger({ level: config.app.logLevel, base: { pid: process.pid, role: 'primary' } });
    try {
      await runPrimary(config, process.env, logger);
    } catch (error) {
      logger.fatal({ err: error }, 'cluster primary failed to start');
      await new Promise<void>((resolve) => logger.flush(() => resolve()));
      process.exit(1);
    }
    return;
  }
  await worker();
}

void main();
