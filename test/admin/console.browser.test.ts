import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserSuite, closeChromium, launchChromium, NO_CHROMIUM, SKIP_REASON } from '../support/browser.js';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { createUser, SESSION_TEST_ENV } from '../support/session.js';

/**
 * The operator console in a real headless Chromium (Debian's `chromium`, driven by
 * playwright-core; never Playwright's own download). `npm test` finds or installs it and
 * exports CHROMIUM_PATH; run directly, the Debian path is used when present. Without a
 * browser every test here is reported as skipped.
 */
if (NO_CHROMIUM) console.warn(`console.browser.test: ${SKIP_REASON}`);

const HOSTILE = '</script><script>alert(1)</script>';
const STEP_MS = 15_000;

interface Violation {
  directive: string;
  blockedURI: string;
  sample: string;
}
declare global {
  interface Window {
    __cspViolations?: Violation[];
  }
}

/** Everything a page did that it should not have: CSP reports, dialogs, failed loads, errors. */
interface Watch {
  page: Page;
  cspConsole: string[];
  dialogs: string[];
  failedRequests: string[];
  pageErrors: string[];
}

function watch(page: Page): Watch {
  const w: Watch = { page, cspConsole: [], dialogs: [], failedRequests: [], pageErrors: [] };
  page.on('console', (message) => {
    const text = message.text();
    if (/Content Security Policy|Refused to/i.test(text)) w.cspConsole.push(text);
  });
  page.on('dialog', (dialog) => {
    w.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss();
  });
  page.on('requestfailed', (request) => w.failedRequests.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText ?? '?'}`));
  page.on('pageerror', (error) => w.pageErrors.push(error.message));
  return w;
}

async function expectClean(w: Watch): Promise<void> {
  const violations = await w.page.evaluate(() => window.__cspViolations ?? []);
  expect({ violations, cspConsole: w.cspConsole, dialogs: w.dialogs, failedRequests: w.failedRequests, pageErrors: w.pageErrors }).toEqual({
    violations: [],
    cspConsole: [],
    dialogs: [],
    failedRequests: [],
    pageErrors: [],
  });
}

/** The embedded state block of a console page's raw HTML. */
function dataBlock(html: string): string {
  const match = /<script type="application\/json" id="rampart-state">([\s\S]*?)<\/script>/.exec(html);
  if (!match) throw new Error('the console page has no rampart-state data block');
  return match[1]!;
}

// Without a browser the suite's name carries the reason, so the skip explains itself.
describe.skipIf(NO_CHROMIUM)(browserSuite('operator console in headless Chromium'), () => {
  let app: TestApp;
  let browser: Browser;
  let profileDir: string;
  let screenshotDir: string;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    app = await startTestApp({ ...SESSION_TEST_ENV, CSP_MODE: 'enforce' });
    screenshotDir = mkdtempSync(join(tmpdir(), 'rampart-console-shot-'));
    ({ browser, profileDir } = await launchChromium('rampart-chromium-'));
  }, 60_000);

  afterAll(async () => {
    await closeChromium(browser, profileDir, contexts);
    await app?.stop();
    if (screenshotDir && !process.env.KEEP_CONSOLE_SCREENSHOT) rmSync(screenshotDir, { recursive: true, force: true });
  }, 30_000);

  async function newPage(): Promise<Watch> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    contexts.push(context);
    context.setDefaultTimeout(STEP_MS);
    // Runs before any page script, outside the page's CSP.
    await context.addInitScript(() => {
      window.__cspViolations = [];
      document.addEventListener('securitypolicyviolation', (event) => {
        window.__cspViolations!.push({ directive: event.violatedDirective, blockedURI: event.blockedURI, sample: event.sample });
      });
    });
    return watch(await context.newPage());
  }

  /** Through the real form: GET /login, fill, submit, follow the 303. */
  async function formLogin(page: Page, username: string, password: string): Promise<void> {
    const login = await page.goto(`${app.url}/login`);
    expect(login?.status()).toBe(200);
    await page.fill('#username', username);
    await page.fill('#password', password);
    const posted = page.waitForResponse((r) => r.url() === `${app.url}/login` && r.request().method() === 'POST');
    await page.click('button[type="submit"]');
    const answer = await posted;
    if (answer.status() !== 303) {
      const origin = (await answer.request().allHeaders())['origin'] ?? '(none)';
      throw new Error(`POST /login answered ${answer.status()} (request Origin: ${origin}): ${await answer.text().catch(() => '?')}`);
    }
    await page.waitForLoadState('load');
  }

  /** Submits the console's restart form (the client script posts JSON through the api client). */
  async function restartThroughForm(page: Page, reason: string): Promise<number> {
    await page.fill('#restart-form textarea[name="reason"]', reason);
    const posted = page.waitForResponse((r) => r.url() === `${app.url}/admin/api/worker/restart` && r.request().method() === 'POST');
    const refreshed = page.waitForResponse((r) => r.url().startsWith(`${app.url}/admin/api/audit`));
    await page.click('#restart-form button[type="submit"]');
    const response = await posted;
    // JSON through the api client, not the no-JavaScript form post.
    expect(response.request().headers()['content-type']).toContain('application/json');
    expect(JSON.parse(response.request().postData() ?? '{}')).toMatchObject({ reason });
    await refreshed;
    return response.status();
  }

  /** The audit table's row for this reason, once the page shows it. */
  async function auditRow(page: Page, reason: string): Promise<string[]> {
    const handle = await page.waitForFunction(
      (wanted) => {
        for (const tr of document.querySelectorAll('#audit tr')) {
          const cells = [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '');
          if (cells[3] === wanted && cells[4] !== '' && cells[4] !== 'requested') return cells;
        }
        return null;
      },
      reason,
      { timeout: STEP_MS },
    );
    return (await handle.jsonValue()) as string[];
  }

  it.skipIf(NO_CHROMIUM)('an admin logs in through /login, sees workers, policy and the form, and restarts with a reason', async () => {
    const w = await newPage();
    const { page } = w;
    const consolePage = page.waitForResponse((r) => r.url() === `${app.url}/admin` && r.request().method() === 'GET');
    consolePage.catch(() => undefined); // awaited below; not an unhandled rejection if login fails first
    await formLogin(page, TEST_ADMIN.username, TEST_ADMIN.password);
    expect(page.url()).toBe(`${app.url}/admin`);
    const served = await consolePage;
    expect(served.status()).toBe(200);
    expect(served.headers()['content-security-policy']).toMatch(/script-src 'nonce-[^']+' 'strict-dynamic'/);
    const html = await served.text();
    // The server leaves the tables empty: rows on screen were rendered by the client module.
    expect(html).toMatch(/<tbody id="workers"><\/tbody>/);

    await expect.poll(() => page.textContent('#refreshed'), { timeout: STEP_MS }).not.toBe('now');
    const rows = await page.$$eval('#workers tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    expect(rows.length).toBeGreaterThanOrEqual(1);
    expect(rows.some((cells) => cells[2] === String(process.pid))).toBe(true);
    expect(await page.textContent('#policy-state')).toMatch(/^(allowed|cooling_down|blocked)$/);
    expect(await page.textContent('#policy-next')).not.toBe('');
    expect(await page.isVisible('#restart-form textarea[name="reason"]')).toBe(true);
    expect(await page.isVisible('#restart-form input[name="acknowledgeOverride"]')).toBe(true);
    expect(await page.getAttribute('#restart-form input[name="_csrf"]', 'value')).not.toBe('');

    // The page's own periodic refresh goes through the api client.
    const firstRefresh = await page.textContent('#refreshed');
    await page.waitForResponse((r) => r.url() === `${app.url}/admin/api/worker/status` && r.status() === 200, { timeout: STEP_MS });
    await expect.poll(() => page.textContent('#refreshed'), { timeout: STEP_MS }).not.toBe(firstRefresh);

    const reason = 'browser test: rolling restart after config change';
    // One process and no supervisor: the admin service refuses (409), audited all the same.
    const status = await restartThroughForm(page, reason);
    expect([202, 409]).toContain(status);
    const cells = await auditRow(page, reason);
    expect(cells[1]).toBe(TEST_ADMIN.username);
    expect(cells[2]).toBe('worker.restart');
    expect(cells[4]).not.toBe('');
    // The outcome row (e.g. `rejected: NOT_CLUSTERED`) and, for a refusal, the reason why.
    if (status === 409) {
      expect(cells[4]).toMatch(/^rejected: /);
      expect(await page.textContent('#error')).toMatch(/^[A-Z_]+: \S/);
    }

    const shot = join(screenshotDir, 'admin-console.png');
    await page.screenshot({ path: shot, fullPage: true });
    if (process.env.KEEP_CONSOLE_SCREENSHOT) console.log(`console screenshot: ${shot}`);
    await expectClean(w);
  });

  it.skipIf(NO_CHROMIUM)('a hostile state value renders as text, stays inside its data block, and opens no dialog', async () => {
    const w = await newPage();
    const { page } = w;
    await formLogin(page, TEST_ADMIN.username, TEST_ADMIN.password);
    await restartThroughForm(page, HOSTILE);
    const live = await auditRow(page, HOSTILE);
    expect(live[3]).toBe(HOSTILE);

    // Now the value is in the audit log, so the server embeds it in the page it renders.
    const reloaded = await page.reload();
    expect(reloaded?.status()).toBe(200);
    const html = (await reloaded?.text()) ?? '';
    const block = dataBlock(html);
    expect(block).not.toMatch(/[<>&\u2028\u2029]/);
    expect(block).toContain('\\u003c/script\\u003e\\u003cscript\\u003ealert(1)\\u003c/script\\u003e');
    expect(html).not.toContain('</script><script>alert(1)');
    expect((html.match(/<script\b/g) ?? []).length).toBe(2);
    const state = JSON.parse(block) as { audit: Array<{ reason: string | null }> };
    expect(state.audit.some((entry) => entry.reason === HOSTILE)).toBe(true);

    // Rendered from the embedded JSON by the client: the cell's text is the string itself.
    const cells = await auditRow(page, HOSTILE);
    expect(cells[3]).toBe(HOSTILE);
    expect(await page.$$eval('#audit td', (tds) => tds.filter((td) => td.children.length > 0).length)).toBe(0);
    expect(await page.$$eval('script', (scripts) => scripts.length)).toBe(2);
    // Give a script that got through a moment to run before looking for its dialog.
    await page.waitForTimeout(300);
    expect(w.dialogs).toEqual([]);
    await expectClean(w);
  });

  it.skipIf(NO_CHROMIUM)('a viewer logs in and is refused the console', async () => {
    const viewer = await createUser(app, 'viewer');
    const w = await newPage();
    const { page } = w;
    await formLogin(page, viewer.username, viewer.password);
    expect(page.url()).not.toBe(`${app.url}/admin`);
    const refused = await page.goto(`${app.url}/admin`);
    expect(refused?.status()).toBe(403);
    expect(refused?.headers()['content-type']).toMatch(/^application\/json/);
    const body = (await refused?.json()) as { error: { code: string; correlationId: string } };
    expect(body.error.code).toBe('FORBIDDEN');
    expect(body.error.correlationId).not.toBe('');
    expect(await page.$('#restart-form')).toBeNull();
    expect(await page.$('#rampart-state')).toBeNull();
    await expectClean(w);
  });

  it.skipIf(NO_CHROMIUM)('the app received no CSP violation report from the browser', () => {
    // Belt and braces to the in-page listener: a violation would also be POSTed to /csp-report.
    expect(app.logs.lines.filter((line) => line.includes('CSP violation reported') || line.includes('"url":"/csp-report'))).toEqual([]);
  });
});
