import { type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserSuite, closeChromium, launchChromium, NO_CHROMIUM, SKIP_REASON } from '../support/browser.js';
import { startTestApp, type TestApp } from '../support/app.js';

/**
 * Swagger UI at /api/docs in a real headless Chromium under the enforced CSP (the default):
 * it must render the operations, with no CSP violation seen by the page, printed on the
 * console, or reported to /csp-report. Chromium as in test/admin/console.browser.test.ts
 * (Debian's package via CHROMIUM_PATH); without it the suite is skipped and says why.
 */
if (NO_CHROMIUM) console.warn(`api-docs.browser.test: ${SKIP_REASON}`);

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

describe.skipIf(NO_CHROMIUM)(browserSuite('Swagger UI in headless Chromium under CSP_MODE=enforce'), () => {
  let app: TestApp;
  let browser: Browser;
  let profileDir: string;

  beforeAll(async () => {
    app = await startTestApp({ CSP_MODE: 'enforce' });
    ({ browser, profileDir } = await launchChromium('rampart-chromium-'));
  }, 60_000);

  afterAll(async () => {
    await closeChromium(browser, profileDir);
    await app?.stop();
  }, 30_000);

  it('renders the operations (e.g. /api/lots) with no CSP violation anywhere', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      context.setDefaultTimeout(STEP_MS);
      await context.addInitScript(() => {
        window.__cspViolations = [];
        document.addEventListener('securitypolicyviolation', (event) => {
          window.__cspViolations!.push({ directive: event.violatedDirective, blockedURI: event.blockedURI, sample: event.sample });
        });
      });
      const page = await context.newPage();
      const cspConsole: string[] = [];
      const pageErrors: string[] = [];
      const failedRequests: string[] = [];
      const reports: string[] = [];
      page.on('console', (message) => {
        if (/Content Security Policy|Refused to/i.test(message.text())) cspConsole.push(message.text());
      });
      page.on('pageerror', (error) => pageErrors.push(error.message));
      page.on('requestfailed', (request) => failedRequests.push(`${request.url()}: ${request.failure()?.errorText ?? '?'}`));
      page.on('request', (request) => {
        if (new URL(request.url()).pathname === '/csp-report') reports.push(request.postData() ?? '');
      });

      const served = await page.goto(`${app.url}/api/docs`);
      expect(served?.status()).toBe(200);
      // The enforced policy, with a nonce and without 'unsafe-inline' for scripts.
      const csp = served?.headers()['content-security-policy'] ?? '';
      expect(csp).toMatch(/script-src 'nonce-[^']+' 'strict-dynamic'/);
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);

      // Swagger UI fetched the document and rendered its operations.
      await page.getByText('/api/lots', { exact: true }).first().waitFor({ state: 'visible', timeout: STEP_MS });
      expect(await page.locator('.opblock').count()).toBeGreaterThan(5);
      // Its stylesheet applied (an unstyled page would leave the summary a plain block).
      expect(await page.locator('.opblock-summary').first().evaluate((el) => getComputedStyle(el).display)).toBe('flex');

      // Opening an operation and running it renders parameters, the curl line and the highlighted
      // live response (more components, more runtime styling). Anonymous, so the answer is a 401.
      const lots = page.locator('.opblock-get', { has: page.getByText('/api/lots', { exact: true }) }).first();
      await lots.locator('.opblock-summary').click();
      await lots.getByRole('button', { name: 'Try it out' }).click();
      const executed = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/lots');
      await lots.getByRole('button', { name: 'Execute' }).click();
      expect((await executed).status()).toBe(401);
      await lots.locator('.live-responses-table').waitFor({ state: 'visible', timeout: STEP_MS });
      expect(await lots.locator('.live-responses-table').textContent()).toMatch(/UNAUTHENTICATED/);
      await page.waitForTimeout(300);

      const violations = await page.evaluate(() => window.__cspViolations ?? []);
      // A report would have been POSTed by the browser and logged by the app.
      const logged = app.logs.entries().filter((entry) => entry.msg === 'CSP violation reported');
      expect({ violations, cspConsole, pageErrors, failedRequests, reports, logged }).toEqual({
        violations: [],
        cspConsole: [],
        pageErrors: [],
        failedRequests: [],
        reports: [],
        logged: [],
      });
    } finally {
      await context.close().catch(() => undefined);
    }
  });
});
