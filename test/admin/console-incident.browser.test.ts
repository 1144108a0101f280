import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserSuite, closeChromium, launchChromium, NO_CHROMIUM } from '../support/browser.js';
import { FaultProxy } from '../chaos/support/fault-proxy.js';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { loginAs, SESSION_TEST_ENV, type LoggedIn } from '../support/session.js';

/**
 * The console as the incident view, in headless Chromium (Debian's `chromium`, see
 * console.browser.test.ts): the app's PostgreSQL sits behind a fault proxy; stalling it must
 * turn the status strip red within one refresh, raise the error chart by contract code and
 * list the failing requests' lines (with their correlation ids); healing turns it green again.
 * Screenshots at desktop and phone width go to test/admin/screenshots/ (gitignored).
 */
const SCREENSHOTS = join(import.meta.dirname, 'screenshots');
/** The console refreshes every 5 s; one refresh plus the health probe's own bound and slack for a busy machine. */
const ONE_REFRESH_MS = 7000;
const DB_CODES = /^DB_(QUERY_TIMEOUT|POOL_EXHAUSTED|CIRCUIT_OPEN|UNAVAILABLE)$/;
const DB_CODE_IN_TEXT = /DB_(QUERY_TIMEOUT|POOL_EXHAUSTED|CIRCUIT_OPEN|UNAVAILABLE)/;

interface StripRow {
  name: string;
  tone: string;
  text: string;
}

async function strip(page: Page): Promise<StripRow[]> {
  return page.$$eval('#status-strip li', (items) =>
    items.map((li) => ({ name: li.getAttribute('data-name') ?? '', tone: li.getAttribute('data-tone') ?? '', text: li.textContent ?? '' })),
  );
}

async function shoot(page: Page, name: string): Promise<string[]> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const paths: string[] = [];
  for (const [label, width] of [
    ['desktop', 1280],
    ['phone', 390],
  ] as const) {
    await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
    const path = join(SCREENSHOTS, `${name}-${label}.png`);
    await page.screenshot({ path, fullPage: true });
    paths.push(path);
    if (width === 390) {
      // Usable on a phone: nothing wider than the screen except inside the scrolling table boxes.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(overflow, `${name} at 390 px is ${overflow} px wide`).toBeLessThanOrEqual(390);
    }
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  return paths;
}

describe.skipIf(NO_CHROMIUM)(browserSuite('console incident view in headless Chromium'), () => {
  let db: TestDatabase;
  let proxy: FaultProxy;
  let app: TestApp;
  let browser: Browser;
  let profileDir: string;
  let user: LoggedIn;

  beforeAll(async () => {
    db = await createTestDatabase('rampart_console');
    proxy = await FaultProxy.start({ host: '127.0.0.1', port: 5432 });
    app = await startTestApp(
      {
        ...SESSION_TEST_ENV,
        CSP_MODE: 'enforce',
        DATABASE_URL: proxy.url(db.url),
        DB_POOL_SIZE: '3',
        DB_MAX_OVERFLOW: '0',
        DB_POOL_TIMEOUT_MS: '500',
        DB_QUERY_TIMEOUT_MS: '1000',
        HEALTH_DB_TIMEOUT_MS: '500',
        BREAKER_MIN_VOLUME: '4',
        BREAKER_OPEN_MS: '1500',
        BREAKER_OPEN_MAX_MS: '3000',
        GRAFANA_URL: 'https://grafana.example.test/d/rampart',
      },
      { db },
    );
    user = await loginAs(app, 'viewer');
    ({ browser, profileDir } = await launchChromium('rampart-chromium-'));
  }, 90_000);

  afterAll(async () => {
    await closeChromium(browser, profileDir);
    proxy?.pass();
    await app?.stop();
    await proxy?.close();
    await db?.drop();
  }, 60_000);

  it.skipIf(NO_CHROMIUM)('shows a stalled database red within one refresh, errors by code and their lines, and green again after healing', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(20_000);
    const page = await context.newPage();
    const pageErrors: string[] = [];
    const cspProblems: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) cspProblems.push(message.text());
    });

    await page.goto(`${app.url}/login`);
    await page.fill('#username', TEST_ADMIN.username);
    await page.fill('#password', TEST_ADMIN.password);
    await Promise.all([page.waitForURL(`${app.url}/admin`), page.click('button[type="submit"]')]);

    // Healthy: every row of the strip is green and the page agrees with /health/deep.
    await expect.poll(async () => (await strip(page)).filter((row) => row.tone !== 'ok').map((row) => row.name), { timeout: 20_000 }).toEqual([]);
    const names = (await strip(page)).map((row) => row.name);
    expect(names).toEqual(expect.arrayContaining(['readiness', 'database', 'health pool', 'main pool', 'redis', 'breaker', 'load shedding']));
    expect((await fetch(`${app.url}/health/deep`)).status).toBe(200);
    expect(await page.getAttribute('#console-nav a[href^="https://grafana"]', 'href')).toBe('https://grafana.example.test/d/rampart');
    expect(await page.isVisible('#logout-form button')).toBe(true);
    expect(await page.locator('#chart-requests polyline, #chart-requests circle').count()).toBeGreaterThan(0);
    const favicon = await fetch(`${app.url}/favicon.svg`);
    expect(favicon.status).toBe(200);
    expect(favicon.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    const shots = await shoot(page, 'healthy');

    // The outage: every byte to PostgreSQL is held; users keep asking.
    proxy.stall();
    const stalledAt = Date.now();
    const failures: { code: string; correlationId: string }[] = [];
    const usersAsking = (async () => {
      const deadline = Date.now() + 20_000;
      while (failures.length < 4 && Date.now() < deadline) {
        const answers = await Promise.all(Array.from({ length: 4 }, () => user.get('/api/lots?limit=5')));
        for (const answer of answers) {
          if (answer.status < 500) continue;
          const body = (await answer.json()) as { error: { code: string; correlationId: string } };
          if (DB_CODES.test(body.error.code)) failures.push(body.error);
        }
      }
    })();
    // Within one refresh of the stall (5 s period + the health probe's 0.5 s bound + rendering).
    await page.waitForFunction(() => document.querySelector('#status-strip li[data-name="database"]')?.getAttribute('data-tone') === 'bad', undefined, {
      timeout: ONE_REFRESH_MS,
    });
    const redAfterMs = Date.now() - stalledAt;
    console.log(`database row red ${redAfterMs} ms after the stall`);
    await usersAsking;
    expect(failures.length, 'user requests failing with database codes').toBeGreaterThanOrEqual(4);
    const codes = [...new Set(failures.map((f) => f.code))];
    const degraded = await strip(page);
    expect(degraded.find((row) => row.name === 'readiness')?.tone).toBe('bad');
    expect((await fetch(`${app.url}/health/deep`)).status).toBe(503);
    // The error chart has a line per database code, and it rose: its newest point is above 0.
    for (const code of codes) {
      await expect.poll(() => page.locator(`#chart-errors [data-series="${code}"]`).count(), { timeout: ONE_REFRESH_MS }).toBeGreaterThan(0);
    }
    const legend = await page.textContent('#chart-errors .legend');
    expect(legend).toMatch(DB_CODE_IN_TEXT);
    // The recent-errors list has the failing requests' lines, by correlation id and code.
    await expect
      .poll(async () => {
        const text = (await page.textContent('#recent-lines')) ?? '';
        return failures.filter((f) => text.includes(f.correlationId)).length;
      }, { timeout: ONE_REFRESH_MS })
      .toBeGreaterThan(0);
    const lineRows = await page.$$eval('#recent-lines tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    // The request's own line carries its code (other lines of the same request may not).
    const codesOfFailures = lineRows.filter((cells) => failures.some((f) => cells[4] === f.correlationId && cells[2] === f.code)).map((cells) => cells[2]);
    expect(codesOfFailures.length).toBeGreaterThan(0);
    expect(codesOfFailures.every((code) => DB_CODES.test(code ?? ''))).toBe(true);
    // The audit log cannot be read now, and the page says so instead of showing an empty table.
    await expect.poll(() => page.textContent('#audit-error'), { timeout: ONE_REFRESH_MS * 2 }).toMatch(/Audit log could not be read: DB_/);
    shots.push(...(await shoot(page, 'degraded')));

    // Healing: bytes flow again; the strip turns green by itself.
    proxy.pass();
    await expect
      .poll(async () => (await strip(page)).filter((row) => row.tone !== 'ok').map((row) => `${row.name}: ${row.text}`), { timeout: 45_000, interval: 1000 })
      .toEqual([]);
    expect((await fetch(`${app.url}/health/deep`)).status).toBe(200);
    shots.push(...(await shoot(page, 'recovered')));
    console.log(`console screenshots:\n${shots.join('\n')}`);

    // Sign out: a CSRF-checked form post, then the login page; the console is closed after it.
    await Promise.all([page.waitForURL(`${app.url}/login`), page.click('#logout-form button')]);
    const after = await page.goto(`${app.url}/admin`);
    expect(after?.status()).toBe(401);

    expect(pageErrors).toEqual([]);
    expect(cspProblems).toEqual([]);
    await context.close();
  }, 150_000);
});
