import 'reflect-metadata';
import { ConfigError } from './config/env.js';
import { startApp, type RunningApp } from './bootstrap.js';

/** EX_CONFIG from sysexits.h: the configuration is wrong, restarting will not help. */
const EX_CONFIG = 78;

async function main(): Promise<void> {
  let running: RunningApp;
  try {
    running = await startApp({ env: process.env });
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) process.stderr.write(`rampart: configuration error: ${problem}\n`);
      process.exit(EX_CONFIG);
    }
    process.stderr.write(`rampart: startup failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }

  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      running.logger.error({ signal }, 'second signal: forcing exit');
      process.exit(1);
    }
    signalled = true;
    void running.close(signal).then(
      (report) => process.exit(report.forced ? 1 : 0),
      (error: unknown) => {
        running.logger.fatal({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // Nest's enableShutdownHooks re-raises the signal after closing (exit 143) and ignores a
  // second signal; operators need exit 0 for a clean drain and a way to force.
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

void main();
