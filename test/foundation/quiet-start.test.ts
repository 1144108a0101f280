import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';

const OLD_NODE = '/usr/bin/node';

describe('a start an operator can read', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ CSRF_MODE: 'report-only', CSP_MODE: 'report-only' });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('has no per-route mapping lines at info, and one warn line per report-only mode', () => {
    const entries = app.logs.entries();
    const mapping = entries.filter((e) => e['context'] === 'RouterExplorer' || e['context'] === 'RoutesResolver');
    expect(mapping).toEqual([]);
    // The app has routes: the lines were not merely absent for lack of any.
    expect(entries.some((e) => typeof e['msg'] === 'string' && /Rampart listening on/.test(e['msg']))).toBe(true);
    const csrf = entries.filter((e) => typeof e['msg'] === 'string' && e['msg'].startsWith('CSRF_MODE=report-only'));
    const csp = entries.filter((e) => typeof e['msg'] === 'string' && e['msg'].startsWith('CSP_MODE=report-only'));
    expect(csrf).toHaveLength(1);
    expect(csp).toHaveLength(1);
    expect(csrf[0]!['level']).toBe('warn');
    expect(csp[0]!['level']).toBe('warn');
  });
});

describe('an unsupported Node', () => {
  const oldNode = existsSync(OLD_NODE) ? spawnSync(OLD_NODE, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim() : '';
  const major = Number.parseInt(oldNode, 10);
  it.skipIf(!(major > 0 && major < 24))(`is refused with one line and exit 78 (${OLD_NODE} is v${oldNode || 'absent'})`, () => {
    const result = spawnSync(OLD_NODE, ['dist/src/main.js'], {
      encoding: 'utf8',
      timeout: 15_000,
      env: { PATH: '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', HOST: '127.0.0.1', PORT: '0' },
    });
    const lines = result.stderr.split('\n').filter((line) => line.length > 0);
    expect(result.status, result.stderr).toBe(78);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^rampart: Node ${oldNode.replace(/\./g, '\\.')} is too old: Rampart needs Node 24\\.0\\.0 or newer`));
    expect(result.stdout).toBe('');
  });
});
