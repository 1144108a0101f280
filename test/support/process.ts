import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../src/database/embedded-postgres.js';

export interface AppProcess {
  child: ChildProcess;
  url: string;
  port: number;
  pid: number;
  output(): string;
  /** Resolves with the exit code (null when killed by a signal) and how long after `since` it came. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * The built entry point (`dist/src/main.js`, built by `npm test`), as `npm start` runs it,
 * bound to 127.0.0.1 on a free port. Resolves once it logs that it listens.
 */
export async function spawnApp(
  env: Record<string, string>,
  options: {
    readyTimeoutMs?: number;
    readyPattern?: RegExp;
    /** Lead a process group of its own, so `process.kill(-pid, signal)` reaches it and its workers only. */
    detached?: boolean;
    /** Polled instead of waiting for `readyPattern` (for a LOG_LEVEL that hides the info line). */
    readyCheck?: (url: string) => Promise<boolean>;
  } = {},
): Promise<AppProcess> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const readyPattern = options.readyPattern ?? /Rampart listening on/;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  const url = `http://127.0.0.1:${port}`;
  const isReady = async () => (options.readyCheck ? await options.readyCheck(url).catch(() => false) : readyPattern.test(output));
  while (!(await isReady())) {
    if (child.exitCode !== null) throw new Error(`app exited early (${child.exitCode}):\n${output.slice(-4000)}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`app did not start in time:\n${output.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    port,
    pid: child.pid!,
    url,
    output: () => output,
    exited,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** PostgreSQL processes serving a data directory below `dataDir` (an embedded database left behind). */
export function postgresProcessesFor(dataDir: string): number {
  const out = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes('postgres') && line.includes(dataDir)).length;
}
