// The one test command (README, .ci/run): runs every Vitest project, then ends the output
// with the plain `N passed, N failed[, N skipped]` line CI reads. Extra arguments pass through.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The operator console's browser test (test/admin/console.browser.test.ts) drives Debian's
// `chromium` through playwright-core; it reads CHROMIUM_PATH and is skipped without it.
// Playwright's own browser download is never used.
const CHROMIUM_DEFAULT = '/usr/bin/chromium';
const APT_BUDGET_MS = 5 * 60_000;

function findChromium() {
  const candidates = [process.env.CHROMIUM_PATH, CHROMIUM_DEFAULT].filter((path) => path !== undefined && path !== '');
  return candidates.find((path) => existsSync(path)) ?? null;
}

function apt(args, deadline) {
  const timeout = Math.max(1_000, deadline - Date.now());
  const result = spawnSync('apt-get', args, {
    encoding: 'utf8',
    timeout,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  const timedOut = result.error?.code === 'ETIMEDOUT' || (result.signal !== null && Date.now() >= deadline);
  return { ok: result.status === 0, timedOut, output, error: result.error };
}

function installChromium() {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!isRoot || !hasApt) return;
  const deadline = Date.now() + APT_BUDGET_MS;
  const install = ['install', '-y', '--no-install-recommends', 'chromium'];
  console.log(`browser tests: Chromium not found; installing Debian package chromium with apt-get (at most ${APT_BUDGET_MS / 60_000} min)...`);
  let step = apt(install, deadline);
  // Missing or stale package lists: refresh them once and try again.
  if (!step.ok && !step.timedOut && /Unable to locate package|has no installation candidate|Failed to fetch|Unable to fetch/i.test(step.output)) {
    console.log('browser tests: apt-get has no usable package lists; running apt-get update...');
    const update = apt(['update'], deadline);
    if (update.ok) {
      console.log('browser tests: package lists updated; installing chromium...');
      step = apt(install, deadline);
    } else {
      step = update;
    }
  }
  if (step.ok) {
    console.log('browser tests: chromium installed.');
  } else {
    const last = step.output.trim().split('\n').filter((line) => line.trim() !== '').slice(-3).join(' | ');
    console.log(`browser tests: apt-get ${step.timedOut ? 'timed out' : 'failed'}${last ? `: ${last}` : step.error ? `: ${step.error.message}` : ''}`);
  }
}

const requestedChromium = process.env.CHROMIUM_PATH || CHROMIUM_DEFAULT;
let chromium = findChromium();
if (chromium === null) {
  installChromium();
  chromium = findChromium();
}
if (chromium !== null) {
  process.env.CHROMIUM_PATH = chromium;
} else {
  delete process.env.CHROMIUM_PATH;
  console.log(
    `browser tests: SKIPPED - no Chromium at ${requestedChromium}; install it with \`apt-get install -y --no-install-recommends chromium\` (Debian) or set CHROMIUM_PATH to a Chromium binary.`,
  );
}

const dir = mkdtempSync(join(tmpdir(), 'rampart-tests-'));
const report = join(dir, 'report.json');
const vitest = join('node_modules', 'vitest', 'vitest.mjs');
const run = spawnSync(
  process.execPath,
  [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: process.env.NODE_ENV ?? 'test' } },
);

let passed = 0;
let failed = 0;
let skipped = 0;
let suiteErrors = 0;
try {
  const result = JSON.parse(readFileSync(report, 'utf8'));
  passed = result.numPassedTests;
  failed = result.numFailedTests;
  skipped = result.numPendingTests + result.numTodoTests;
  // A file that fails to load has no tests in it, yet the run is not green.
  suiteErrors = result.testResults.filter((file) => file.status === 'failed' && file.assertionResults.length === 0).length;
} catch (error) {
  console.error(`test runner: no report was written (${error instanceof Error ? error.message : String(error)})`);
  failed = Math.max(failed, 1);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
failed += suiteErrors;
const code = run.status ?? 1;
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(code !== 0 ? code : failed > 0 ? 1 : 0);
