import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { postgresProcessesFor } from '../support/process.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { createUser, loginWith, SESSION_TEST_ENV } from '../support/session.js';
import { openStream } from '../support/sse.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The built command line (`npm run users` runs the same file after building). */
function users(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['dist/src/users/users.cli.js', ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'test', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`users ${args.join(' ')} did not finish within ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('npm run users (the break-glass command line, built dist/)', () => {
  let app: TestApp;
  let env: Record<string, string>;

  beforeAll(async () => {
    const prefix = uniquePrefix();
    app = await startTestApp({ ...SESSION_TEST_ENV, SSE_SESSION_CHECK_MS: '60000', REDIS_URL: SHARED_REDIS_URL, REDIS_KEY_PREFIX: prefix });
    env = { DATABASE_URL: app.db.url, REDIS_URL: SHARED_REDIS_URL, REDIS_KEY_PREFIX: prefix };
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('exits 64 on usage errors and 78 on configuration errors, touching nothing', async () => {
    for (const args of [[], ['frobnicate'], ['create', 'someone'], ['create', 'Not Valid', '--role', 'viewer'], ['set-role', 'x', 'root'], ['list', '--bogus']]) {
      const run = await users(args, env);
      expect({ args, code: run.code }).toEqual({ args, code: 64 });
      expect(run.stderr).toContain('usage: npm run users');
    }
    const config = await users(['list'], { ...env, DB_POOL_SIZE: 'many' });
    expect(config.code).toBe(78);
    expect(config.stderr).toMatch(/configuration error: DB_POOL_SIZE/);
  });

  it('creates a user, printing the one-time password once on stdout only; it signs in into the password change; audited as cli', async () => {
    const run = await users(['create', 'cli-made', '--role', 'operator', '--reason', 'break-glass ticket 9'], env);
    expect(run.code).toBe(0);
    const password = run.stdout.trim().split('\n').at(-1)!;
    expect(password).toMatch(/^[A-Za-z0-9_-]{20}$/);
    expect(run.stdout.split(password).length).toBe(2);
    expect(run.stderr).not.toContain(password);
    const session = await loginWith(app.url, 'cli-made', password);
    expect(await (await session.get('/api/auth/me')).json()).toMatchObject({ mustChangePassword: true });
    const rows = await app.db.query<{ actor_id: number | null; outcome: string; reason: string; details: Record<string, unknown> }>(
      `SELECT actor_id, outcome, reason, details FROM admin_audit_log WHERE action = 'user.create' AND details->>'username' = 'cli-made' ORDER BY id`,
    );
    expect(rows.map((r) => r.outcome)).toEqual(['requested', 'created']);
    expect(rows[1]).toMatchObject({ actor_id: null, reason: 'break-glass ticket 9', details: { actor: 'cli' } });
    expect(JSON.stringify(rows)).not.toContain(password);
    // The console's audit list names the command line as the actor.
    const admin = await loginWith(app.url, TEST_ADMIN.username, TEST_ADMIN.password);
    const audit = (await (await admin.get('/admin/api/audit?limit=20')).json()) as { action: string; actor: string | null }[];
    expect(audit.find((a) => a.action === 'user.create')?.actor).toBe('cli');
    const list = await users(['list'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/\tcli-made\tlocal\toperator\tenabled\tyes\t/);
  });

  it('disable ends the user\'s open session and live stream at once through Redis; enable, set-role and reset-password work', async () => {
    const user = await createUser(app, 'operator');
    const session = await loginWith(app.url, user.username, user.password);
    const stream = await openStream(app.url, session.cookie);
    try {
      const run = await users(['disable', user.username, '--reason', 'compromised laptop'], env);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/1 session\(s\) revoked \(disabled\)/);
      expect((await session.get('/api/auth/me')).status).toBe(401);
      expect(await stream.waitForEnd(1000)).toBe('disabled');
    } finally {
      await stream.cancel();
    }
    expect((await users(['enable', user.username], env)).code).toBe(0);
    const again = await loginWith(app.url, user.username, user.password);
    const role = await users(['set-role', user.username, 'viewer'], env);
    expect(role.code).toBe(0);
    expect((await again.get('/api/auth/me')).status).toBe(401);
    // Lookups by name ignore case, as sign-in does.
    const reset = await users(['reset-password', user.username.toUpperCase()], env);
    expect(reset.code).toBe(0);
    const password = reset.stdout.trim().split('\n').at(-1)!;
    await expect(loginWith(app.url, user.username, user.password)).rejects.toThrow(/401/);
    expect((await (await loginWith(app.url, user.username, password)).get('/api/auth/me')).status).toBe(200);
  });

  it('refuses with exit 1 (and an audited refusal): the last enabled admin, an unknown user, a taken username', async () => {
    await app.db.query(`UPDATE users SET disabled = true WHERE role = 'admin' AND username <> $1`, [TEST_ADMIN.username]);
    // An enabled directory admin does not count: the local one stays the last.
    await app.db.query(`INSERT INTO users (username, password_hash, role, source) VALUES ('cli-dir-admin', '!directory', 'admin', 'ldap')`);
    const last = await users(['disable', TEST_ADMIN.username], env);
    expect(last.code).toBe(1);
    expect(last.stderr).toMatch(/last enabled local admin/);
    expect((await users(['set-role', 'nobody-here', 'viewer'], env)).code).toBe(1);
    expect((await users(['create', 'cli-made', '--role', 'viewer'], env)).code).toBe(1);
    const [refused] = await app.db.query<{ outcome: string }>(
      `SELECT outcome FROM admin_audit_log WHERE action = 'user.disable' AND details->>'username' = $1 ORDER BY id DESC LIMIT 1`,
      [TEST_ADMIN.username],
    );
    expect(refused!.outcome).toBe('refused: FORBIDDEN');
  });

  it('without Redis reachable the change still applies and says how the sessions end', async () => {
    const user = await createUser(app, 'viewer');
    const run = await users(['disable', user.username], { ...env, REDIS_URL: 'redis://127.0.0.1:1' });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/not revoked now \(Redis unreachable\)/);
    expect(run.stderr).toMatch(/next request/);
  });
});

describe('npm run users against the embedded database (no DATABASE_URL)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'rampart-users-cli-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('starts the embedded server when none runs and stops it after; uses (and leaves running) the one that runs', async () => {
    const first = await users(['create', 'embedded-ops', '--role', 'admin'], { DATA_DIR: dataDir }, 120_000);
    expect(first.code, first.stderr).toBe(0);
    expect(postgresProcessesFor(dataDir)).toBe(0);

    const running = await startEmbeddedPostgres({ dataDir, port: 0, logger: pino({ level: 'silent' }) });
    try {
      const list = await users(['list'], { DATA_DIR: dataDir }, 60_000);
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout).toMatch(/\tembedded-ops\tlocal\tadmin\t/);
      // Still the same server, still answering.
      const client = new pg.Client({ connectionString: running.url });
      await client.connect();
      const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
      await client.end();
      expect(rows[0]!.n).toBe(1);
    } finally {
      await running.stop();
    }
  }, 180_000);
});
