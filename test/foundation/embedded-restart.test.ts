import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loginWith as login } from '../support/session.js';
import { postgresProcessesFor, spawnApp, type AppProcess } from '../support/process.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../support/redis.js';

describe('embedded PostgreSQL default (no DATABASE_URL)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'rampart-embedded-'));
  let proc: AppProcess | null = null;
  afterAll(() => {
    proc?.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  const env = { DATA_DIR: dataDir, ADMIN_BOOTSTRAP_PASSWORD: 'embedded-admin-password', LOG_LEVEL: 'info' };

  it('serves data, keeps a note across a SIGTERM and restart, and leaves no PostgreSQL behind', async () => {
    const started = Date.now();
    proc = await spawnApp(env, { readyTimeoutMs: 60_000 });
    const session = await login(proc.url, 'admin', 'embedded-admin-password');
    const summary = await fetch(`${proc.url}/api/reports/wip-summary`, { headers: session.headers() });
    expect(summary.status).toBe(200);
    expect(((await summary.json()) as { stations: unknown[] }).stations.length).toBeGreaterThan(0);
    console.info(`[embedded] first start to data: ${Date.now() - started} ms`);

    const text = `survives restart ${Date.now()}`;
    const created = await fetch(`${proc.url}/api/lots/1/notes`, { method: 'POST', headers: session.headers(), body: JSON.stringify({ text }) });
    expect(created.status).toBe(201);

    const signalled = Date.now();
    proc.kill('SIGTERM');
    const exit = await proc.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - signalled).toBeLessThan(10_000);
    expect(postgresProcessesFor(dataDir)).toBe(0);

    proc = await spawnApp(env, { readyTimeoutMs: 60_000 });
    const again = await login(proc.url, 'admin', 'embedded-admin-password');
    const lot = await fetch(`${proc.url}/api/lots/1`, { headers: again.headers() });
    const body = (await lot.json()) as { notes: { text: string }[] };
    expect(body.notes.map((n) => n.text)).toContain(text);
    proc.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
    expect(postgresProcessesFor(dataDir)).toBe(0);
  });

  it.each([
    ['a single process', {}, 300],
    // The primary is still starting embedded PostgreSQL when the signal comes.
    ['the cluster primary', { WORKERS: '2', REDIS_URL: SHARED_REDIS_URL, REDIS_KEY_PREFIX: uniquePrefix() }, 800],
  ])('shuts %s down cleanly on a SIGTERM that arrives while it is still starting', async (_what, extraEnv: Record<string, string>, afterMs) => {
    const startingDir = mkdtempSync(join(tmpdir(), 'rampart-starting-'));
    try {
      const child = spawn(process.execPath, ['dist/src/main.js'], {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '/tmp',
          HOST: '127.0.0.1',
          PORT: '0',
          DATA_DIR: startingDir,
          ADMIN_BOOTSTRAP_PASSWORD: 'embedded-admin-password',
          ...extraEnv,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      // Well before the embedded PostgreSQL and Nest are up.
      await new Promise((r) => setTimeout(r, afterMs));
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 45_000))]);
      if (code === 'timeout') child.kill('SIGKILL');
      expect(code).toBe(0);
      expect(stderr).toMatch(/SIGTERM during startup/);
      expect(postgresProcessesFor(startingDir)).toBe(0);
    } finally {
      rmSync(startingDir, { recursive: true, force: true });
    }
  });
});
