import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** Runs the built entry point (`npm test` builds first) the way `npm start` does. */
function runMain(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['dist/src/main.js'], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

describe('production configuration guard', () => {
  it('exits 78 naming SESSION_SECRET, DATABASE_URL and REDIS_URL when nothing is set', async () => {
    const { code, stderr } = await runMain({ NODE_ENV: 'production' });
    expect(code).toBe(78);
    const lines = stderr.trim().split('\n');
    expect(lines.some((l) => l.includes('SESSION_SECRET'))).toBe(true);
    expect(lines.some((l) => l.includes('DATABASE_URL'))).toBe(true);
    expect(lines.some((l) => l.includes('REDIS_URL'))).toBe(true);
    // One line per problem, nothing else.
    expect(lines.every((l) => l.startsWith('rampart: configuration error: '))).toBe(true);
  });

  it('names a weak secret without printing it', async () => {
    const { code, stderr, stdout } = await runMain({
      NODE_ENV: 'production',
      SESSION_SECRET: 'changeme',
      DATABASE_URL: 'postgres://rampart:pw@127.0.0.1:1/rampart',
      REDIS_URL: 'redis://127.0.0.1:1',
    });
    expect(code).toBe(78);
    expect(stderr).toMatch(/SESSION_SECRET is a known placeholder/);
    expect(stderr + stdout).not.toContain('changeme');
  });

  it('refuses a directory reached without TLS in production with exactly one line, never printing the bind password', async () => {
    const { code, stderr, stdout } = await runMain({
      NODE_ENV: 'production',
      SESSION_SECRET: 'Zq8#pL2@vN5!xR7$kT4%mW9^bY3&cH6*',
      DATABASE_URL: 'postgres://rampart:pw@127.0.0.1:1/rampart',
      REDIS_URL: 'redis://127.0.0.1:1',
      AUTH_PROVIDERS: 'ldap,local',
      LDAP_URL: 'ldap://dc1.example.com',
      LDAP_BIND_DN: 'cn=rampart,dc=example,dc=com',
      LDAP_BIND_PASSWORD: 'service-secret-value',
      LDAP_USER_BASE: 'dc=example,dc=com',
      LDAP_ROLE_RULES: 'viewer=*',
    });
    expect(code).toBe(78);
    expect(stderr.trim().split('\n')).toEqual([
      'rampart: configuration error: LDAP_URL must be ldaps:// or LDAP_STARTTLS=true in production: passwords would cross the network in clear',
    ]);
    expect(stderr + stdout).not.toContain('service-secret-value');
  });
});
