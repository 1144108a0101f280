import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { anonymousSession, SESSION_TEST_ENV, sessionCookieOf } from '../support/session.js';

/**
 * The console's restart form without JavaScript: the page's hidden `_csrf` field must be a
 * token the session really holds, also for a session that never asked GET /api/auth/csrf
 * (a fresh login lands on /admin with no token yet).
 */
describe('operator console form (no JavaScript)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(SESSION_TEST_ENV);
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('posts the restart form with the token the page rendered', async () => {
    const pre = await anonymousSession(app.url);
    const login = await pre.post('/api/auth/login', TEST_ADMIN);
    expect(login.status).toBe(200);
    const cookie = sessionCookieOf(login)!;

    const page = await fetch(`${app.url}/admin`, { headers: { cookie } });
    expect(page.status).toBe(200);
    const token = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1];
    expect(token).toBeDefined();

    const reason = 'form test: restart without JavaScript';
    const post = await fetch(`${app.url}/admin/worker/restart`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, origin: app.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ reason, _csrf: token! }).toString(),
    });
    expect(post.status, await post.clone().text()).toBe(303);
    // Audited, whatever the supervisor (none here) made of it.
    const rows = await app.db.query<{ reason: string }>('SELECT reason FROM admin_audit_log WHERE reason = $1', [reason]);
    expect(rows.length).toBeGreaterThanOrEqual(1);
  });
});
