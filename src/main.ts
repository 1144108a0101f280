// First, before anything else is even loaded: refuses an unsupported Node with exit 78.
import './node-version.js';
import cluster from 'node:cluster';
import type { RunningApp } from './bootstrap.js';
import { parsePrimaryMessage, STOP_TEARDOWN_MARGIN_MS, type ShutdownMessage } from './cluster/protocol.js';
import { StopSignalGate } from './cluster/stop-signals.js';
import type { ShutdownOptions } from './resilience/shutdown-registry.service.js';

// Only builtins and builtin-only modules above (node-version first: ESM evaluates imports in order) (the type import is erased): the holders below
// must be in place before the application's modules load (Nest alone takes a good half
// second), which happens in main().
const signalGate = new StopSignalGate();
const releaseSignals = holdSignalsDuringStartup();
const releaseShutdownRequest = cluster.isWorker ? holdShutdownRequestDuringStartup() : () => null;

/** EX_CONFIG from sysexits.h: the configuration is wrong, restarting will not help. */
const EX_CONFIG = 78;

async function configOrExit() {
  const { ConfigError, loadConfig } = await import('./config/env.js');
  const { VERSION } = await import('./version.js');
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

/**
 * Until the real handlers exist, a SIGTERM would kill the process outright (default action),
 * mid-migration or with an embedded PostgreSQL running and then orphaned. Held signals are
 * acted on as soon as startup completes; a second one (not a copy of the first, see
 * stop-signals.ts) still forces exit.
 */
function holdSignalsDuringStartup(): () => NodeJS.Signals | null {
  let held: NodeJS.Signals | null = null;
  const hold = (signal: NodeJS.Signals) => {
    const verdict = signalGate.classify();
    if (verdict === 'repeat') return;
    if (verdict === 'force') {
      process.stderr.write(`rampart: second ${signal} during startup: exiting now\n`);
      process.exit(1);
    }
    held = signal;
    process.stderr.write(`rampart: ${signal} during startup: will shut down as soon as startup completes\n`);
  };
  process.on('SIGTERM', hold);
  process.on('SIGINT', hold);
  return () => {
    process.off('SIGTERM', hold);
    process.off('SIGINT', hold);
    return held;
  };
}

/**
 * A cluster worker that is still starting has no IPC listener yet, so the primary's stop
 * (sent when the service stops while a replacement starts) would be lost; it is kept here and
 * acted on once startup completes.
 */
function holdShutdownRequestDuringStartup(): () => ShutdownMessage | null {
  let held: ShutdownMessage | null = null;
  const listener = (raw: unknown) => {
    const message = parsePrimaryMessage(raw);
    if (message?.type === 'shutdown') held ??= message;
  };
  process.on('message', listener);
  return () => {
    process.off('message', listener);
    return held;
  };
}

async function worker(): Promise<void> {
  const { startApp } = await import('./bootstrap.js');
  let running: RunningApp;
  try {
    running = await startApp({ env: process.env });
  } catch (error) {
    await reportStartupFailure(error);
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

  // One drain per process, whoever asks first: its own signal, or (cluster mode) the
  // primary's stop. A cluster worker usually gets both when the whole process group is
  // signalled; they are one stop, and only a later *signal* forces.
  let stopping = false;
  const stop = (reason: string, options?: ShutdownOptions): boolean => {
    if (stopping) return false;
    stopping = true;
    exitWith(running.close(reason, options));
    return true;
  };
  const stopOnSignal = (signal: NodeJS.Signals) => {
    // The primary must not take this exit for a crash, whether or not it stops too.
    if (running.channel.mode === 'cluster') running.channel.notifyStopping(signal);
    if (!stop(signal)) running.logger.info({ signal }, 'stop signal while already draining (the supervisor asked first): same drain');
  };
  const onSignal = (signal: NodeJS.Signals) => {
    const verdict = signalGate.classify();
    if (verdict === 'repeat') {
      running.logger.info({ signal }, 'stop signal repeated within a second: same stop');
      return;
    }
    if (verdict === 'force') {
      running.logger.error({ signal }, 'second signal: forcing exit');
      process.exit(1);
    }
    stopOnSignal(signal);
  };
  // Nest's enableShutdownHooks re-raises the signal after closing (exit 143) and ignores a
  // second signal; operators need exit 0 for a clean drain and a way to force.
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const held = releaseSignals();
  if (held) stopOnSignal(held);
  if (running.channel.mode === 'cluster') {
    // SIGHUP means "rolling restart" to the primary; a hangup sent to the whole process group
    // (a closed terminal) must not take every worker down at once.
    process.on('SIGHUP', () => running.logger.info('SIGHUP ignored by worker; the supervisor handles restarts'));
  }
  const onShutdownRequest = ({ reason, deadlineMs, drainDelayMs }: { reason: string; deadlineMs: number; drainDelayMs?: number | undefined }) => {
    if (drainDelayMs === undefined) {
      // Rolling restart: the supervisor has already taken this worker out of rotation: no
      // delay, and requests on sockets still open are served with `Connection: close`.
      stop(`supervisor: ${reason}`, { drainDelayMs: 0, serveDuringDrain: true, timeoutMs: Math.max(500, deadlineMs - 1000) });
    } else {
      // The service stops: the same drain as a signal (readiness `shutting_down` while serving
      // for the delay), bounded so teardown fits before the primary's kill deadline.
      stop(`supervisor: ${reason}`, { drainDelayMs, timeoutMs: Math.max(500, deadlineMs - drainDelayMs - STOP_TEARDOWN_MARGIN_MS) });
    }
  };
  running.channel.onShutdown(onShutdownRequest);
  const heldRequest = releaseShutdownRequest();
  if (heldRequest) onShutdownRequest(heldRequest);
}

async function main(): Promise<void> {
  await import('reflect-metadata');
  const { config } = await configOrExit();
  if (config.cluster.workers > 1 && cluster.isPrimary) {
    const { runPrimary } = await import('./cluster/primary.js');
    const { createRootLogger } = await import('./observability/logger.js');
    const { TelemetryRecorder } = await import('./observability/telemetry.js');
    // The primary's own warn/error lines (crashes, blocked restarts) reach the console too.
    const primaryLines = new TelemetryRecorder();
    const logger = createRootLogger({ level: config.app.logLevel, base: { pid: process.pid, role: 'primary' }, onWarnLine: (line) => primaryLines.recordLogLine(line) });
    let outcome: 'running' | 'stopped';
    try {
      outcome = await runPrimary(config, process.env, logger, releaseSignals, () => primaryLines.full().logs);
    } catch (error) {
      logger.fatal({ err: error }, 'cluster primary failed to start');
      await new Promise<void>((resolve) => logger.flush(() => resolve()));
      await reportStartupFailure(error);
      process.exit(1);
    }
    if (outcome === 'stopped') {
      await new Promise<void>((resolve) => logger.flush(() => resolve()));
      process.exit(0);
    }
    return;
  }
  await worker();
}

/**
 * One line on stderr naming the cause, whatever was thrown (libraries reject with undefined
 * too), with credentials inside URLs scrubbed as in the log.
 */
async function reportStartupFailure(error: unknown): Promise<void> {
  const { describeStartupError } = await import('./core/startup-error.js');
  const { redactString } = await import('./observability/redact.js');
  process.stderr.write(`rampart: startup failed: ${redactString(describeStartupError(error))}\n`);
}

void main();
