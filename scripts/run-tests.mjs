// The one test command (README, .ci/run): runs every Vitest project, then ends the output
// with the plain `N passed, N failed[, N skipped]` line CI reads. Extra arguments pass through.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Tools some tests need, installed from Debian when missing and this runs as root; without them
// those tests are skipped, saying why. Playwright's own browser download is never used.
// - The operator console's browser test (test/admin/console.browser.test.ts) drives Debian's
//   `chromium` through playwright-core; it reads CHROMIUM_PATH.
// - The Prometheus checks (test/static/promtool.test.ts) run `promtool` from Debian's `prometheus`
//   package (check config, check rules, rule unit tests); they read PROMTOOL_PATH.
// - The directory sign-in tests (test/auth/directory-sign-in.test.ts) start Debian's `slapd` as
//   their own unprivileged process on spare 127.0.0.1 ports (never the system instance) and
//   change entries with `ldapmodify` from `ldap-utils`; they read SLAPD_PATH and LDAPMODIFY_PATH.
const CHROMIUM_DEFAULT = '/usr/bin/chromium';
const PROMTOOL_DEFAULT = '/usr/bin/promtool';
const SLAPD_DEFAULT = '/usr/sbin/slapd';
const LDAPMODIFY_DEFAULT = '/usr/bin/ldapmodify';
/** One budget for every installation together, package-list refresh included. */
const APT_BUDGET_MS = 5 * 60_000;
const aptDeadline = Date.now() + APT_BUDGET_MS;
let aptListsRefreshed = false;

function findTool(variable, fallback) {
  const candidates = [process.env[variable], fallback].filter((path) => path !== undefined && path !== '');
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

/** `apt-get install` of one Debian package for `purpose`, within what is left of the shared budget. */
function aptInstall(pkg, purpose) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!isRoot || !hasApt) return;
  if (Date.now() >= aptDeadline) {
    console.log(`${purpose}: ${pkg} not installed; the ${APT_BUDGET_MS / 60_000}-minute installation budget is spent.`);
    return;
  }
  const install = ['install', '-y', '--no-install-recommends', pkg];
  console.log(`${purpose}: installing Debian package ${pkg} with apt-get (at most ${Math.ceil((aptDeadline - Date.now()) / 60_000)} min left)...`);
  let step = apt(install, aptDeadline);
  // Missing or stale package lists: refresh them once per run and try again.
  if (!step.ok && !step.timedOut && !aptListsRefreshed && /Unable to locate package|has no installation candidate|Failed to fetch|Unable to fetch/i.test(step.output)) {
    aptListsRefreshed = true;
    console.log(`${purpose}: apt-get has no usable package lists; running apt-get update...`);
    const update = apt(['update'], aptDeadline);
    if (update.ok) {
      console.log(`${purpose}: package lists updated; installing ${pkg}...`);
      step = apt(install, aptDeadline);
    } else {
      step = update;
    }
  }
  if (step.ok) {
    console.log(`${purpose}: ${pkg} installed.`);
  } else {
    const last = step.output.trim().split('\n').filter((line) => line.trim() !== '').slice(-3).join(' | ');
    console.log(`${purpose}: apt-get ${step.timedOut ? 'timed out' : 'failed'}${last ? `: ${last}` : step.error ? `: ${step.error.message}` : ''}`);
  }
}

/** The tool's path in `variable` for the tests, installing `pkg` first when it is missing; null when it stays missing. */
function provide({ variable, fallback, pkg, purpose, skipped }) {
  const requested = process.env[variable] || fallback;
  let path = findTool(variable, fallback);
  if (path === null) {
    aptInstall(pkg, purpose);
    path = findTool(variable, fallback);
  }
  if (path !== null) {
    process.env[variable] = path;
  } else {
    delete process.env[variable];
    console.log(`${purpose}: SKIPPED - no ${requested}; install it with \`apt-get install -y --no-install-recommends ${pkg}\` (Debian) or set ${variable}. ${skipped}`);
  }
  return path;
}

provide({ variable: 'CHROMIUM_PATH', fallback: CHROMIUM_DEFAULT, pkg: 'chromium', purpose: 'browser tests', skipped: 'The console browser test did not run.' });
provide({
  variable: 'PROMTOOL_PATH',
  fallback: PROMTOOL_DEFAULT,
  pkg: 'prometheus',
  purpose: 'promtool checks',
  skipped: 'promtool check config / check rules / test rules did not run.',
});

provide({
  variable: 'SLAPD_PATH',
  fallback: SLAPD_DEFAULT,
  pkg: 'slapd',
  purpose: 'directory tests',
  skipped: 'The LDAP sign-in tests against a real slapd did not run.',
});
provide({
  variable: 'LDAPMODIFY_PATH',
  fallback: LDAPMODIFY_DEFAULT,
  pkg: 'ldap-utils',
  purpose: 'directory tests',
  skipped: 'The LDAP sign-in tests against a real slapd did not run.',
});

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
