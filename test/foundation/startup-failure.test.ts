import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SHARED_REDIS_URL, uniquePrefix } from '../support/redis.js';

/** Runs the built app until it exits (bounded); its exit code and stderr. */
async function runUntilExit(env: Record<string, string>, timeoutMs = 30_000): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await exited;
  clearTimeout(timer);
  return { code, stderr };
}

describe('startup failures name their cause in one line', () => {
  // A live process we own whose pid lands in the lock file, as a reused pid would.
  const squatter: ChildProcess = spawn('sleep', ['120'], { stdio: 'ignore' });
  const dirs: string[] = [];
  afterAll(() => {
    squatter.kill('SIGKILL');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** An embedded data directory from an earlier run whose postmaster.pid now names the squatter. */
  function staleDataDir(): string {
    const dataDir = mkdtempSync(join(tmpdir(), 'rampart-stale-pid-'));
    dirs.push(dataDir);
    const pgdata = join(dataDir, 'pg');
    mkdirSync(pgdata, { recursive: true, mode: 0o700 });
    writeFileSync(join(pgdata, 'PG_VERSION'), '17\n');
    writeFileSync(join(pgdata, 'postmaster.pid'), `${squatter.pid}\n${pgdata}\n1700000000\n5432\n\n127.0.0.1\n  5432001         0\nready   \n`);
    return dataDir;
  }

  it.each([
    ['a single process', {}],
    ['the cluster primary', { WORKERS: '2', REDIS_URL: SHARED_REDIS_URL, REDIS_KEY_PREFIX: uniquePrefix() }],
  ])('embedded mode, %s: a stale postmaster.pid naming another live process', async (_what, extraEnv: Record<string, string>) => {
    const dataDir = staleDataDir();
    const started = Date.now();
    const { code, stderr } = await runUntilExit({ DATA_DIR: dataDir, ADMIN_BOOTSTRAP_PASSWORD: 'embedded-admin-password', LOG_LEVEL: 'warn', ...extraEnv });
    const line = stderr.split('\n').find((l) => l.startsWith('rampart: startup failed:'));
    console.info(`[startup-failure ${_what}] exit ${code} after ${Date.now() - started} ms: ${line}`);
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(line, stderr.slice(-2000)).toBeDefined();
    expect(line).toContain(`${join(dataDir, 'pg', 'postmaster.pid')} names pid ${squatter.pid}, which is running`);
    expect(line).toMatch(/is not this data directory's PostgreSQL; if no PostgreSQL uses .*, remove the file/);
    expect(line).not.toMatch(/undefined/);
    // The squatter was left alone.
    expect(squatter.exitCode).toBeNull();
    expect(squatter.signalCode).toBeNull();
  });

  it('embedded mode: PostgreSQL refusing its data directory is quoted, not "undefined"', async () => {
    // Looks like an earlier run's directory, but PostgreSQL finds no configuration in it.
    const dataDir = mkdtempSync(join(tmpdir(), 'rampart-broken-pgdata-'));
    dirs.push(dataDir);
    mkdirSync(join(dataDir, 'pg'), { recursive: true, mode: 0o700 });
    writeFileSync(join(dataDir, 'pg', 'PG_VERSION'), '17\n');
    const { code, stderr } = await runUntilExit({ DATA_DIR: dataDir, ADMIN_BOOTSTRAP_PASSWORD: 'embedded-admin-password', LOG_LEVEL: 'warn' });
    const line = stderr.split('\n').find((l) => l.startsWith('rampart: startup failed:'));
    console.info(`[startup-failure broken data directory] exit ${code}: ${line}`);
    expect(code).toBe(1);
    expect(line, stderr.slice(-2000)).toContain(`embedded PostgreSQL in ${join(dataDir, 'pg')} did not start: `);
    expect(line).toMatch(/configuration file|FATAL/);
    expect(line).not.toMatch(/undefined/);
  });

  it('an unreachable DATABASE_URL: which PostgreSQL and why, without the password', async () => {
    const { code, stderr } = await runUntilExit({ NODE_ENV: 'test', LOG_LEVEL: 'fatal', DATABASE_URL: 'postgres://rampart:Hunter2Secret@127.0.0.1:1/rampart' });
    const line = stderr.split('\n').find((l) => l.startsWith('rampart: startup failed:'));
    expect(code).toBe(1);
    expect(line, stderr.slice(-2000)).toBe('rampart: startup failed: cannot use PostgreSQL at 127.0.0.1:1/rampart: connect ECONNREFUSED 127.0.0.1:1');
    expect(stderr).not.toContain('Hunter2Secret');
  });
});
