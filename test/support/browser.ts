import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

/**
 * Headless Chromium for the browser tests: Debian's `chromium` driven by playwright-core, never
 * Playwright's own download. `npm test` finds or installs it and exports CHROMIUM_PATH; run
 * directly, the Debian path is used when present. Without a browser the suites are skipped and
 * their names say why.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || (existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : '');
export const NO_CHROMIUM = CHROMIUM_PATH === '' || !existsSync(CHROMIUM_PATH);
export const SKIP_REASON = 'skipped: no Chromium (apt-get install -y --no-install-recommends chromium, or set CHROMIUM_PATH)';
// Without the background-networking flags Chromium keeps dialling out, and a closed network
// refuses it many times a second.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A suite title that carries the skip reason when there is no browser. */
export function browserSuite(title: string): string {
  return NO_CHROMIUM ? `${title} (${SKIP_REASON})` : title;
}

/**
 * Launches Chromium with its home, config and cache in a fresh temporary directory (returned,
 * for the caller to remove). Playwright gives every launch a --user-data-dir of its own and
 * refuses one in args.
 */
export async function launchChromium(prefix = 'rampart-chromium-'): Promise<{ browser: Browser; profileDir: string }> {
  const profileDir = mkdtempSync(join(tmpdir(), prefix));
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [...CHROMIUM_ARGS, `--disk-cache-dir=${join(profileDir, 'cache')}`],
    env: { ...process.env, HOME: profileDir, XDG_CONFIG_HOME: profileDir, XDG_CACHE_HOME: profileDir },
    timeout: 30_000,
  });
  return { browser, profileDir };
}

/**
 * Undoes `launchChromium` (and any contexts the suite opened), whatever failed before: for an
 * `afterAll`, where `browser` may never have been launched.
 */
export async function closeChromium(browser: Browser | undefined, profileDir: string | undefined, contexts: readonly BrowserContext[] = []): Promise<void> {
  for (const context of contexts) await context.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
}
