import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { type BrowserSession, loginAs, loginWith, SESSION_TEST_ENV } from '../support/session.js';

interface PasswordRow {
  password_hash: string;
  previous_password_hash: string | null;
  password_changed_at: string;
}

/**
 * The console's forms that answer a one-time password, posted as a browser posts them when the
 * result page is reloaded: the same fields again. On a real listening app with sessions in the
 * machine's Redis, so "sessions ended" is real.
 */
describe('users console: a re-submitted reset or create form replays the first answer', () => {
  let app: TestApp;
  let admin: BrowserSession;

  beforeAll(async () => {
    app = await startTestApp({ ...SESSION_TEST_ENV, SSE_SESSION_CHECK_MS: '60000', REDIS_URL: SHARED_REDIS_URL, REDIS_KEY_PREFIX: uniquePrefix() });
    admin = await loginWith(app.url, TEST_ADMIN.username, TEST_ADMIN.password);
  });
  afterAll(async () => {
    await app?.stop();
  });

  const usersPage = async () => {
    const response = await admin.get('/admin/users');
    expect(response.status).toBe(200);
    return response.text();
  };

  /** The hidden fields of the form posting to `action`, as the page rendered them. */
  function hiddenFields(html: string, action: string): Record<string, string> {
    const form = new RegExp(`<form method="post" action="${action.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"[^>]*>([\\s\\S]*?)</form>`).exec(html);
    if (!form) throw new Error(`no form posting to ${action} on the page`);
    return Object.fromEntries([...form[1]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"[^>]*>/g)].map((m) => [m[1]!, m[2]!]));
  }

  /** As a browser posts a form: the session cookie, this site's Origin, the token only in the body. */
  const postForm = (path: string, fields: Record<string, string>) =>
    fetch(`${app.url}${path}`, {
      method: 'POST',
      headers: { cookie: admin.cookie, origin: app.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });

  const otpOf = (html: string) => /<code id="otp-value">([^<]+)<\/code>/.exec(html)?.[1] ?? null;
  const messageOf = (html: string) => /<p id="message"[^>]*>([^<]*)<\/p>/.exec(html)?.[1] ?? null;
  const passwordRow = async (id: number) =>
    (await app.db.query<PasswordRow>('SELECT password_hash, previous_password_hash, password_changed_at::text FROM users WHERE id = $1', [id]))[0]!;
  const outcomes = async (action: string, key: string, value: string) =>
    (await app.db.query<{ outcome: string }>(`SELECT outcome FROM admin_audit_log WHERE action = $1 AND details->>'${key}' = $2 ORDER BY id`, [action, value])).map(
      (r) => r.outcome,
    );
  const APPLIED = 'applied; sessions revoked (password_changed)';

  it('reset password: the same form twice changes the password once, shows the same one-time password, ends no session the second time; a new form resets again', async () => {
    const target = await loginAs(app, 'operator');
    const action = `/admin/users/${target.user.id}/reset-password`;
    const before = await passwordRow(target.user.id);
    const page = await usersPage();
    const hidden = hiddenFields(page, action);
    expect(hidden.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    // Never restored by a browser's form memory on reload: that would send a spent key.
    expect(page).toContain(`name="idempotencyKey" value="${hidden.idempotencyKey}" autocomplete="off">`);
    const fields: Record<string, string> = { ...hidden, reason: 'forgot it, ticket 77' };

    const first = await postForm(action, fields);
    const firstHtml = await first.text();
    expect(first.status, firstHtml).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(messageOf(firstHtml)).toContain(`New one-time password for ${target.user.username}; 1 session(s) ended.`);
    const otp = otpOf(firstHtml)!;
    expect(otp).toMatch(/^[A-Za-z0-9_-]{20}$/);
    const afterFirst = await passwordRow(target.user.id);
    expect(afterFirst.password_hash).not.toBe(before.password_hash);
    expect((await target.get('/api/auth/me')).status).toBe(401);
    // The user signs in with it before the admin reloads: the reload must not end this session.
    const fresh = await loginWith(app.url, target.user.username, otp);

    // The reload: the browser posts the very same fields again.
    const second = await postForm(action, fields);
    const secondHtml = await second.text();
    expect(second.status, secondHtml).toBe(200);
    // One password change in the database, one reset in the audit log, and the new session lives.
    expect(await passwordRow(target.user.id)).toEqual(afterFirst);
    expect(await outcomes('user.reset-password', 'userId', String(target.user.id))).toEqual(['requested', APPLIED, 'requested', 'replayed (Idempotency-Key)']);
    expect((await fresh.get('/api/auth/me')).status).toBe(200);
    expect(otpOf(secondHtml)).toBe(otp);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(messageOf(secondHtml)).toMatch(/already submitted.*nothing was done again.*reset once; no session was ended now/);

    // The key with another request (another reason) is the contract's 422, shown on the page; nothing changes.
    const mismatch = await postForm(action, { ...fields, reason: 'a different reason' });
    expect(mismatch.status).toBe(422);
    expect(messageOf(await mismatch.text())).toMatch(/^IDEMPOTENCY_KEY_MISMATCH: /);
    expect(await passwordRow(target.user.id)).toEqual(afterFirst);

    // The result page rendered a new form with a new key: that one resets again.
    const next = hiddenFields(secondHtml, action);
    expect(next.idempotencyKey).not.toBe(fields.idempotencyKey);
    const third = await postForm(action, { ...next, reason: 'handed to the wrong person' });
    const thirdHtml = await third.text();
    expect(third.status, thirdHtml).toBe(200);
    expect(otpOf(thirdHtml)).not.toBe(otp);
    const afterThird = await passwordRow(target.user.id);
    expect(afterThird.password_hash).not.toBe(afterFirst.password_hash);
    expect(afterThird.previous_password_hash).toBe(afterFirst.password_hash);
    expect((await fresh.get('/api/auth/me')).status).toBe(401);
    expect((await outcomes('user.reset-password', 'userId', String(target.user.id))).filter((o) => o === APPLIED)).toHaveLength(2);

    // The password is in the store only sealed, and never in the logs.
    const stored = await app.db.query<{ response: unknown }>('SELECT response FROM idempotency_keys WHERE key = ANY($1)', [[fields.idempotencyKey, next.idempotencyKey]]);
    expect(stored).toHaveLength(2);
    expect(JSON.stringify(stored)).not.toContain(otp);
    expect(app.logs.lines.some((line) => line.includes(otp))).toBe(false);
  });

  it('reset password: a re-submission while the first still runs gets 409 IDEMPOTENCY_IN_PROGRESS with Retry-After, then the first answer', async () => {
    const target = await loginAs(app, 'viewer');
    const action = `/admin/users/${target.user.id}/reset-password`;
    const fields = { ...hiddenFields(await usersPage(), action), reason: 'locked out' };
    // The first reset waits inside its transaction, key lock held, for the local admins' rows
    // (the last-admin check locks them). NO KEY UPDATE, so the duplicate's audit row (which
    // references the acting admin) is not held up as well.
    const locker = new pg.Client({ connectionString: app.db.url });
    await locker.connect();
    let first: Promise<Response> | undefined;
    try {
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM users WHERE username = $1 FOR NO KEY UPDATE', [TEST_ADMIN.username]);
      first = postForm(action, fields);
      await waitFor(async () => (await app.db.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() AND query LIKE '%users.lock_admins%'`)).length > 0);
      const duplicate = await postForm(action, fields);
      expect(duplicate.status).toBe(409);
      expect(duplicate.headers.get('retry-after')).toBe('1');
      expect(messageOf(await duplicate.text())).toMatch(/^IDEMPOTENCY_IN_PROGRESS: /);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
    }
    const firstHtml = await (await first!).text();
    const otp = otpOf(firstHtml);
    expect(otp, firstHtml).not.toBeNull();
    const replay = await postForm(action, fields);
    expect(otpOf(await replay.text())).toBe(otp);
    const outcomes_ = await outcomes('user.reset-password', 'userId', String(target.user.id));
    expect(outcomes_.filter((o) => o === APPLIED)).toHaveLength(1);
    expect(outcomes_).toContain('refused: IDEMPOTENCY_IN_PROGRESS');
  });

  it('create user: the same form twice creates one user and shows the same one-time password', async () => {
    const username = `resubmit-${randomBytes(4).toString('hex')}`;
    const fields: Record<string, string> = { ...hiddenFields(await usersPage(), '/admin/users'), username, role: 'viewer', reason: 'new starter, ticket 5' };
    expect(fields.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    const first = await postForm('/admin/users', fields);
    const firstHtml = await first.text();
    expect(first.status, firstHtml).toBe(200);
    expect(messageOf(firstHtml)).toBe(`Created ${username} (viewer).`);
    const otp = otpOf(firstHtml)!;
    const second = await postForm('/admin/users', fields);
    const secondHtml = await second.text();
    expect(second.status, secondHtml).toBe(200);
    expect(await app.db.query('SELECT id FROM users WHERE username = $1', [username])).toHaveLength(1);
    expect(await outcomes('user.create', 'username', username)).toEqual(['requested', 'created', 'requested', 'replayed (Idempotency-Key)']);
    expect(otpOf(secondHtml)).toBe(otp);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(messageOf(secondHtml)).toMatch(/already submitted.*Created .* \(viewer\)\./);
    await loginWith(app.url, username, otp);
  });

  it('a form without the key (a page from before) behaves as before; a malformed key is refused', async () => {
    const target = await loginAs(app, 'viewer');
    const action = `/admin/users/${target.user.id}/reset-password`;
    const { idempotencyKey: _key, ...withoutKey } = hiddenFields(await usersPage(), action);
    const fields = { ...withoutKey, reason: 'old page' };
    const first = otpOf(await (await postForm(action, fields)).text());
    const second = otpOf(await (await postForm(action, fields)).text());
    expect(first).not.toBeNull();
    expect(second).not.toBeNull();
    expect(second).not.toBe(first);
    expect((await outcomes('user.reset-password', 'userId', String(target.user.id))).filter((o) => o === APPLIED)).toHaveLength(2);
    const before = await passwordRow(target.user.id);
    expect((await postForm(action, { ...fields, idempotencyKey: 'not a key' })).status).toBe(400);
    expect(await passwordRow(target.user.id)).toEqual(before);
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
