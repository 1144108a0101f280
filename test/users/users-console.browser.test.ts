import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserSuite, closeChromium, launchChromium, NO_CHROMIUM } from '../support/browser.js';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { SESSION_TEST_ENV } from '../support/session.js';
import { openStream, type SseReader } from '../support/sse.js';

/**
 * The console's user management in a real headless Chromium (Debian's `chromium` through
 * playwright-core, as test/admin/console.browser.test.ts), at a phone's 390 px width: an admin
 * creates, demotes, disables and signs out a user who meanwhile has an open session (in a
 * second browser) and a live stream; each time both end at once.
 */
const STEP_MS = 15_000;
/** "At once": well under the account check's second and the 60 s stream check configured here. */
const AT_ONCE_MS = 1000;

interface Problems {
  csp: string[];
  pageErrors: string[];
}

describe.skipIf(NO_CHROMIUM)(browserSuite('user management console in headless Chromium'), () => {
  let app: TestApp;
  let browser: Browser;
  let profileDir: string;
  const contexts: BrowserContext[] = [];
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    app = await startTestApp({ ...SESSION_TEST_ENV, CSP_MODE: 'enforce', SSE_SESSION_CHECK_MS: '60000', REDIS_URL: SHARED_REDIS_URL, REDIS_KEY_PREFIX: uniquePrefix() });
    ({ browser, profileDir } = await launchChromium('rampart-chromium-users-'));
  }, 60_000);

  afterAll(async () => {
    await closeChromium(browser, profileDir, contexts);
    await app?.stop();
    console.info(`[users console] ms from the admin's submit to the user's 401 and stream end: ${JSON.stringify(timings)}`);
  }, 30_000);

  async function newPage(problems: Problems): Promise<{ page: Page; context: BrowserContext }> {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    contexts.push(context);
    context.setDefaultTimeout(STEP_MS);
    const page = await context.newPage();
    page.on('console', (m) => /Content Security Policy|Refused to/i.test(m.text()) && problems.csp.push(m.text()));
    page.on('pageerror', (e) => problems.pageErrors.push(e.message));
    return { page, context };
  }

  async function formLogin(page: Page, username: string, password: string): Promise<void> {
    await page.goto(`${app.url}/login`);
    await page.fill('#username', username);
    await page.fill('#password', password);
    await Promise.all([page.waitForURL((url) => url.pathname !== '/login'), page.click('button[type="submit"]')]);
  }

  /** Opens the user's card and submits one of its action forms; resolves to the page's message. */
  async function act(page: Page, userId: number, action: string, reason: string, fill?: (form: string) => Promise<void>): Promise<{ message: string; at: number }> {
    await page.click(`#user-${userId} details > summary`);
    const form = `#user-${userId} form[data-action="${action}"]`;
    await fill?.(form);
    await page.fill(`${form} input[name="reason"]`, reason);
    const answered = page.waitForResponse((r) => r.url() === `${app.url}/admin/users/${userId}/${action}` && r.request().method() === 'POST');
    const at = Date.now();
    await page.click(`${form} button[type="submit"]`);
    await answered;
    await page.waitForLoadState('load');
    return { message: (await page.textContent('#message')) ?? '', at };
  }

  /**
   * The user's own browser asks who it is (its cookies, its context): 200 while its session lives,
   * 401 once it ended. Not a fetch from the page: a non-admin lands on `/`, which here is
   * Rampart's JSON 404 (the dashboard is served elsewhere), and a JSON answer's policy lets that
   * document connect nowhere.
   */
  const meStatus = async (page: Page) => (await page.context().request.get(`${app.url}/api/auth/me`)).status();

  async function cookieOf(context: BrowserContext): Promise<string> {
    const sid = (await context.cookies(app.url)).find((c) => c.name === 'sid');
    if (!sid) throw new Error('no session cookie in the user\'s browser');
    return `sid=${sid.value}`;
  }

  async function expectEndedAtOnce(label: string, userPage: Page, stream: SseReader, since: number, reason: string): Promise<void> {
    expect(await meStatus(userPage)).toBe(401);
    timings[`${label}:401`] = Date.now() - since;
    expect(await stream.waitForEnd(AT_ONCE_MS)).toBe(reason);
    timings[`${label}:stream`] = stream.endedAt()! - since;
  }

  it.skipIf(NO_CHROMIUM)('an admin creates, demotes, disables and signs out a user; the user\'s open session and live stream end at once each time', async () => {
    const problems: Problems = { csp: [], pageErrors: [] };
    const { page: adminPage } = await newPage(problems);
    await formLogin(adminPage, TEST_ADMIN.username, TEST_ADMIN.password);
    // From the console's nav link to the users page.
    await Promise.all([adminPage.waitForURL(`${app.url}/admin/users`), adminPage.click('a[href="/admin/users"]')]);
    expect(await adminPage.getAttribute('#create-form input[name="_csrf"]', 'value')).not.toBe('');

    // Create, with a reason: the one-time password is shown once on the page.
    const username = `jane-${Date.now().toString(36)}`;
    await adminPage.fill('#create-form input[name="username"]', username);
    await adminPage.selectOption('#create-form select[name="role"]', 'operator');
    await adminPage.fill('#create-form input[name="reason"]', 'new operator, ticket 321');
    await Promise.all([adminPage.waitForResponse((r) => r.url() === `${app.url}/admin/users` && r.request().method() === 'POST'), adminPage.click('#create-form button[type="submit"]')]);
    expect(await adminPage.textContent('#message')).toContain(`Created ${username} (operator)`);
    const oneTimePassword = ((await adminPage.textContent('#otp-value')) ?? '').trim();
    expect(oneTimePassword).toMatch(/^[A-Za-z0-9_-]{20}$/);
    const userId = Number((await adminPage.getAttribute(`li[data-username="${username}"]`, 'id'))!.replace('user-', ''));
    // 390 px wide without sideways scrolling.
    expect(await adminPage.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);

    // The user signs in with it in a browser of their own and is led to change it.
    const { page: userPage, context: userContext } = await newPage(problems);
    await formLogin(userPage, username, oneTimePassword);
    expect(new URL(userPage.url()).pathname).toBe('/password');
    expect(await userPage.textContent('#required')).toContain('one-time password');
    const password = 'jane-own-password-2026';
    await userPage.fill('#currentPassword', oneTimePassword);
    await userPage.fill('#newPassword', password);
    await userPage.fill('#confirmPassword', password);
    await Promise.all([userPage.waitForURL((url) => url.pathname === '/'), userPage.click('#password-form button[type="submit"]')]);
    expect(await meStatus(userPage)).toBe(200);

    // Demote: the session and the live stream end at once.
    let stream = await openStream(app.url, await cookieOf(userContext));
    const demoted = await act(adminPage, userId, 'role', 'moved to quality', (form) => adminPage.selectOption(`${form} select[name="role"]`, 'viewer').then(() => undefined));
    expect(demoted.message).toContain(`${username} is now viewer; 1 session(s) ended`);
    await expectEndedAtOnce('demote', userPage, stream, demoted.at, 'revoked');
    await stream.cancel();

    // Disable: the same, with the stream told why, and no new sign-in.
    await formLogin(userPage, username, password);
    stream = await openStream(app.url, await cookieOf(userContext));
    const disabled = await act(adminPage, userId, 'disable', 'left the company');
    expect(disabled.message).toContain(`${username} is disabled; 1 session(s) ended`);
    await expectEndedAtOnce('disable', userPage, stream, disabled.at, 'disabled');
    await stream.cancel();
    await userPage.goto(`${app.url}/login`);
    await userPage.fill('#username', username);
    await userPage.fill('#password', password);
    await userPage.click('button[type="submit"]');
    expect(await userPage.textContent('.error')).toContain('Invalid username or password');

    // Enable again, the user signs in; sign-out everywhere ends it once more.
    expect((await act(adminPage, userId, 'enable', 'came back')).message).toContain(`${username} is enabled`);
    await formLogin(userPage, username, password);
    stream = await openStream(app.url, await cookieOf(userContext));
    const signedOut = await act(adminPage, userId, 'sign-out', 'lost phone');
    expect(signedOut.message).toContain('Signed out everywhere; 1 session(s) ended');
    await expectEndedAtOnce('sign-out', userPage, stream, signedOut.at, 'revoked');
    await stream.cancel();

    // The guard shows on the page: the bootstrap admin is the last enabled admin.
    const adminId = Number((await adminPage.getAttribute(`li[data-username="${TEST_ADMIN.username}"]`, 'id'))!.replace('user-', ''));
    const refused = await act(adminPage, adminId, 'disable', 'should not work');
    expect(refused.message).toMatch(/^FORBIDDEN: Refused: admin is the last enabled local admin/);

    const rows = await app.db.query<{ action: string; outcome: string; reason: string }>(
      `SELECT action, outcome, reason FROM admin_audit_log WHERE details->>'userId' = $1 AND outcome <> 'requested' ORDER BY id`,
      [String(userId)],
    );
    expect(rows.map((r) => [r.action, r.reason])).toEqual([
      ['user.create', 'new operator, ticket 321'],
      ['user.password.change', 'self-service'],
      ['user.role', 'moved to quality'],
      ['user.disable', 'left the company'],
      ['user.enable', 'came back'],
      ['user.sign-out', 'lost phone'],
    ]);
    expect(problems).toEqual({ csp: [], pageErrors: [] });
    expect(app.logs.lines.filter((line) => line.includes(oneTimePassword) || line.includes(password))).toEqual([]);
  });
});
