import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { type BrowserSession, createUser, loginAs, loginWith, SESSION_TEST_ENV, sessionCookieOf } from '../support/session.js';
import { openStream } from '../support/sse.js';

interface Envelope {
  error: { code: string; message: string; details?: { path: string; message: string }[] };
}
interface Summary {
  id: number;
  username: string;
  source: string;
  role: string;
  disabled: boolean;
  mustChangePassword: boolean;
  lastLoginAt: string | null;
}
interface AuditRow {
  action: string;
  reason: string | null;
  outcome: string;
  actor_id: number | null;
  details: Record<string, unknown>;
}

const name = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

/** User management through the admin API, on a real listening app with sessions in the machine's Redis. */
describe('user management API', () => {
  let app: TestApp;
  let admin: BrowserSession;
  let adminId: number;

  beforeAll(async () => {
    // A long periodic stream check: a stream that ends here was ended by the revocation itself.
    app = await startTestApp({ ...SESSION_TEST_ENV, SSE_SESSION_CHECK_MS: '60000', REDIS_URL: SHARED_REDIS_URL, REDIS_KEY_PREFIX: uniquePrefix() });
    admin = await loginWith(app.url, TEST_ADMIN.username, TEST_ADMIN.password);
    adminId = (await app.db.query<{ id: number }>('SELECT id FROM users WHERE username = $1', [TEST_ADMIN.username]))[0]!.id;
  });
  afterAll(async () => {
    await app?.stop();
  });

  const audit = (action: string, userId: number) =>
    app.db.query<AuditRow>(`SELECT action, reason, outcome, actor_id, details FROM admin_audit_log WHERE action = $1 AND details->>'userId' = $2 ORDER BY id`, [
      action,
      String(userId),
    ]);

  async function create(username: string, role = 'operator', key?: string): Promise<Response> {
    return admin.post('/admin/api/users', { username, role, reason: 'new starter, ticket 100' }, key ? { headers: { 'idempotency-key': key } } : {});
  }

  it('creates a local user with a one-time password shown once, lists it, audits it, and never logs or stores the password in clear', async () => {
    const username = name('jane');
    const response = await create(username);
    expect(response.status).toBe(201);
    const body = (await response.json()) as { user: Summary; oneTimePassword: string };
    expect(body.user).toMatchObject({ username, role: 'operator', source: 'local', disabled: false, mustChangePassword: true, lastLoginAt: null });
    expect(body.oneTimePassword).toMatch(/^[A-Za-z0-9_-]{20}$/);

    const list = (await (await admin.get('/admin/api/users?limit=200')).json()) as Summary[];
    expect(list.find((u) => u.username === username)).toMatchObject({ id: body.user.id, mustChangePassword: true });
    expect(list.find((u) => u.username === TEST_ADMIN.username)?.lastLoginAt).not.toBeNull();

    const rows = await app.db.query<AuditRow>(`SELECT action, reason, outcome, actor_id, details FROM admin_audit_log WHERE action = 'user.create' AND details->>'username' = $1 ORDER BY id`, [username]);
    expect(rows.map((r) => r.outcome)).toEqual(['requested', 'created']);
    expect(rows[0]).toMatchObject({ reason: 'new starter, ticket 100', actor_id: adminId });
    expect(JSON.stringify(rows)).not.toContain(body.oneTimePassword);
    expect(app.logs.lines.some((line) => line.includes(body.oneTimePassword))).toBe(false);
  });

  it('honours Idempotency-Key on create: a replay returns the same answer (password included) without a second user; the store holds it sealed', async () => {
    const username = name('idem');
    const key = `create-${randomBytes(6).toString('hex')}`;
    const first = await create(username, 'viewer', key);
    expect(first.status).toBe(201);
    const firstBody = (await first.json()) as { user: Summary; oneTimePassword: string };
    const replay = await create(username, 'viewer', key);
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await replay.json()).toEqual(firstBody);
    expect((await app.db.query('SELECT id FROM users WHERE username = $1', [username])).length).toBe(1);
    const [stored] = await app.db.query<{ response: unknown }>('SELECT response FROM idempotency_keys WHERE key = $1', [key]);
    expect(JSON.stringify(stored!.response)).not.toContain(firstBody.oneTimePassword);
    const mismatch = await create(name('other'), 'viewer', key);
    expect(mismatch.status).toBe(422);
    expect(((await mismatch.json()) as Envelope).error.code).toBe('IDEMPOTENCY_KEY_MISMATCH');
    // Without a key, the same username again is a validation error naming the field.
    const duplicate = await create(username, 'viewer');
    expect(duplicate.status).toBe(400);
    expect(((await duplicate.json()) as Envelope).error).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: 'username', message: 'is already taken' }] });
  });

  it('usernames ignore case: Bob is stored as bob, signs in as BOB, and bob again is taken', async () => {
    const suffix = randomBytes(4).toString('hex');
    const response = await create(`Bob-${suffix}`);
    expect(response.status).toBe(201);
    const body = (await response.json()) as { user: Summary; oneTimePassword: string };
    expect(body.user.username).toBe(`bob-${suffix}`);
    const stored = await app.db.query<{ username: string }>('SELECT username FROM users WHERE id = $1', [body.user.id]);
    expect(stored[0]!.username).toBe(`bob-${suffix}`);
    const session = await loginWith(app.url, `BOB-${suffix}`, body.oneTimePassword);
    expect(((await (await session.get('/api/auth/me')).json()) as { user: { id: number } }).user.id).toBe(body.user.id);
    for (const spelling of [`bob-${suffix}`, `BoB-${suffix}`]) {
      const again = await create(spelling);
      expect(again.status).toBe(400);
      expect(((await again.json()) as Envelope).error).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: 'username', message: 'is already taken' }] });
    }
    // A row written with capitals before the rule (an old bootstrap `Admin`) still blocks every spelling.
    const legacy = `Legacy-${suffix}`;
    await app.db.query(`INSERT INTO users (username, password_hash, role) VALUES ($1, '!x', 'viewer')`, [legacy]);
    expect((await create(legacy.toLowerCase())).status).toBe(400);
  });

  it('validates bodies with VALIDATION_FAILED details, needs admin and CSRF', async () => {
    const bad = await admin.post('/admin/api/users', { username: 'Not Valid!', role: 'root', reason: 'x' });
    expect(bad.status).toBe(400);
    const paths = ((await bad.json()) as Envelope).error.details!.map((d) => d.path).sort();
    expect(paths).toEqual(['reason', 'role', 'username']);
    const operator = await loginAs(app, 'operator');
    expect((await operator.post('/admin/api/users', { username: name('x'), role: 'viewer', reason: 'not mine' })).status).toBe(403);
    expect((await operator.get('/admin/api/users')).status).toBe(403);
    const noCsrf = await fetch(`${app.url}/admin/api/users`, {
      method: 'POST',
      headers: { ...admin.headers(), 'x-csrf-token': 'wrong' },
      body: JSON.stringify({ username: name('x'), role: 'viewer', reason: 'no token' }),
    });
    expect(noCsrf.status).toBe(403);
    expect(((await noCsrf.json()) as Envelope).error.code).toBe('CSRF_INVALID');
    expect((await admin.request('PUT', '/admin/api/users/1/role', { body: JSON.stringify({ role: 'viewer' }) })).status).toBe(400);
  });

  it('a role change ends the user\'s sessions and live stream at once, and is audited with before and after', async () => {
    const target = await loginAs(app, 'operator');
    const stream = await openStream(app.url, target.cookie);
    try {
      const response = await admin.request('PUT', `/admin/api/users/${target.user.id}/role`, { body: JSON.stringify({ role: 'viewer', reason: 'moved to QA' }) });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ user: { id: target.user.id, role: 'viewer' }, revokedSessions: 1 });
      expect((await target.get('/api/auth/me')).status).toBe(401);
      expect(await stream.waitForEnd(1000)).toBe('revoked');
      const rows = await audit('user.role', target.user.id);
      expect(rows.map((r) => r.outcome)).toEqual(['requested', 'applied; sessions revoked (role_changed)']);
      expect(rows[1]!.details).toMatchObject({ before: { role: 'operator' }, after: { role: 'viewer' }, revokedSessions: 1 });
      const again = await loginWith(app.url, target.user.username, target.user.password);
      expect(((await (await again.get('/api/auth/me')).json()) as { user: { role: string } }).user.role).toBe('viewer');
    } finally {
      await stream.cancel();
    }
  });

  it('disabling ends sessions and streams with "disabled" and stops sign-in; enabling lets the user back in', async () => {
    const target = await loginAs(app, 'viewer');
    const stream = await openStream(app.url, target.cookie);
    try {
      const response = await admin.post(`/admin/api/users/${target.user.id}/disable`, { reason: 'left the company' });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ user: { disabled: true }, revokedSessions: 1 });
      expect((await target.get('/api/auth/me')).status).toBe(401);
      expect(await stream.waitForEnd(1000)).toBe('disabled');
      await expect(loginWith(app.url, target.user.username, target.user.password)).rejects.toThrow(/answered 401/);
      expect((await admin.post(`/admin/api/users/${target.user.id}/enable`, { reason: 'came back' })).status).toBe(200);
      expect((await (await loginWith(app.url, target.user.username, target.user.password)).get('/api/auth/me')).status).toBe(200);
      expect((await audit('user.disable', target.user.id)).map((r) => r.outcome)).toEqual(['requested', 'applied; sessions revoked (disabled)']);
      expect((await audit('user.enable', target.user.id)).map((r) => r.outcome)).toEqual(['requested', 'applied']);
    } finally {
      await stream.cancel();
    }
  });

  it('a password reset ends sessions, the old password stops working, and the new one-time password must be changed first', async () => {
    const target = await loginAs(app, 'operator');
    const stream = await openStream(app.url, target.cookie);
    try {
      const response = await admin.post(`/admin/api/users/${target.user.id}/reset-password`, { reason: 'forgot it' });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { user: Summary; revokedSessions: number; oneTimePassword: string };
      expect(body).toMatchObject({ user: { mustChangePassword: true }, revokedSessions: 1 });
      expect((await target.get('/api/auth/me')).status).toBe(401);
      expect(await stream.waitForEnd(1000)).toBe('revoked');
      await expect(loginWith(app.url, target.user.username, target.user.password)).rejects.toThrow(/answered 401/);
      const fresh = await loginWith(app.url, target.user.username, body.oneTimePassword);
      expect((await fresh.get('/api/lots')).status).toBe(403);
      expect(app.logs.lines.some((line) => line.includes(body.oneTimePassword))).toBe(false);
    } finally {
      await stream.cancel();
    }
  });

  it('refuses to demote or disable the last enabled admin, with a clear FORBIDDEN, audited as refused', async () => {
    // Other admins from earlier tests would make this one not the last.
    await app.db.query(`UPDATE users SET disabled = true WHERE role = 'admin' AND username <> $1`, [TEST_ADMIN.username]);
    const demote = await admin.request('PUT', `/admin/api/users/${adminId}/role`, { body: JSON.stringify({ role: 'operator', reason: 'oops' }) });
    expect(demote.status).toBe(403);
    expect(((await demote.json()) as Envelope).error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/last enabled local admin/) });
    const disable = await admin.post(`/admin/api/users/${adminId}/disable`, { reason: 'oops' });
    expect(disable.status).toBe(403);
    expect(((await disable.json()) as Envelope).error.message).toMatch(/last enabled local admin/);
    expect((await admin.get('/api/auth/me')).status).toBe(200);
    expect((await audit('user.role', adminId)).map((r) => r.outcome)).toEqual(['requested', 'refused: FORBIDDEN']);
    // With a second enabled admin the same demotion goes through, and then that one is the last.
    const other = await createUser(app, 'admin');
    const demoted = await admin.request('PUT', `/admin/api/users/${other.id}/role`, { body: JSON.stringify({ role: 'viewer', reason: 'not an admin after all' }) });
    expect(demoted.status).toBe(200);
    expect((await admin.post(`/admin/api/users/${adminId}/disable`, { reason: 'still the last' })).status).toBe(403);
  });

  it('an enabled directory admin does not make the local admin demotable: at least one enabled LOCAL admin remains', async () => {
    await app.db.query(`UPDATE users SET disabled = true WHERE role = 'admin' AND username <> $1`, [TEST_ADMIN.username]);
    const dirAdmin = name('dir-admin');
    await app.db.query(`INSERT INTO users (username, password_hash, role, source) VALUES ($1, '!directory', 'admin', 'ldap')`, [dirAdmin]);
    try {
      const demote = await admin.request('PUT', `/admin/api/users/${adminId}/role`, { body: JSON.stringify({ role: 'viewer', reason: 'the directory has one' }) });
      expect(demote.status).toBe(403);
      expect(((await demote.json()) as Envelope).error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/last enabled local admin/) });
      const disable = await admin.post(`/admin/api/users/${adminId}/disable`, { reason: 'the directory has one' });
      expect(disable.status).toBe(403);
      expect(((await disable.json()) as Envelope).error.message).toMatch(/directory admins do not count/);
      expect((await admin.get('/api/auth/me')).status).toBe(200);
    } finally {
      await app.db.query('DELETE FROM users WHERE username = $1', [dirAdmin]);
    }
  });

  it('documents the new endpoints in the OpenAPI document', async () => {
    const doc = (await (await admin.get('/api/docs-json')).json()) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    const documented = (path: string, method: string, status: string) => doc.paths[path]?.[method]?.responses[status] !== undefined;
    expect(documented('/admin/api/users', 'get', '200')).toBe(true);
    expect(documented('/admin/api/users', 'post', '201')).toBe(true);
    expect(documented('/admin/api/users/{id}/role', 'put', '200')).toBe(true);
    for (const action of ['disable', 'enable', 'reset-password', 'sign-out']) expect(documented(`/admin/api/users/{id}/${action}`, 'post', '200'), action).toBe(true);
    expect(documented('/api/auth/password', 'post', '200')).toBe(true);
    expect(doc.paths['/admin/users']).toBeUndefined();
    expect(doc.paths['/password']).toBeUndefined();
  });

  it('directory users: role and password are refused (FORBIDDEN), disable and sign-out work', async () => {
    const [row] = await app.db.query<{ id: number }>(
      `INSERT INTO users (username, password_hash, role, source, directory_dn) VALUES ($1, '!directory', 'viewer', 'ldap', 'uid=x,dc=example,dc=com') RETURNING id`,
      [name('dir')],
    );
    const id = row!.id;
    const role = await admin.request('PUT', `/admin/api/users/${id}/role`, { body: JSON.stringify({ role: 'admin', reason: 'try' }) });
    expect(role.status).toBe(403);
    expect(((await role.json()) as Envelope).error.message).toMatch(/directory user/);
    expect((await admin.post(`/admin/api/users/${id}/reset-password`, { reason: 'try' })).status).toBe(403);
    expect((await admin.post(`/admin/api/users/${id}/disable`, { reason: 'left' })).status).toBe(200);
    expect((await admin.post(`/admin/api/users/${id}/sign-out`, { reason: 'left' })).status).toBe(200);
    expect((await admin.post('/admin/api/users/999999/disable', { reason: 'who' })).status).toBe(404);
  });
});

/** The one-time password's gate and the self-service password change. */
describe('password change and the one-time password gate', () => {
  let app: TestApp;
  let admin: BrowserSession;

  beforeAll(async () => {
    app = await startTestApp({ ...SESSION_TEST_ENV, SSE_SESSION_CHECK_MS: '60000', REDIS_URL: SHARED_REDIS_URL, REDIS_KEY_PREFIX: uniquePrefix() });
    admin = await loginWith(app.url, TEST_ADMIN.username, TEST_ADMIN.password);
  });
  afterAll(async () => {
    await app?.stop();
  });

  async function newUser(role = 'operator'): Promise<{ id: number; username: string; password: string }> {
    const username = name('otp');
    const response = await admin.post('/admin/api/users', { username, role, reason: 'test user' });
    const body = (await response.json()) as { user: Summary; oneTimePassword: string };
    return { id: body.user.id, username, password: body.oneTimePassword };
  }

  it('a one-time-password session may only change the password, read /me, fetch a token and log out', async () => {
    const user = await newUser('admin');
    const session = await loginWith(app.url, user.username, user.password);
    const me = await session.get('/api/auth/me');
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ user: { username: user.username }, mustChangePassword: true });
    expect((await session.get('/api/auth/csrf')).status).toBe(200);
    for (const path of ['/api/lots', '/admin/api/system-status', '/admin/api/users']) {
      const refused = await session.get(path);
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as Envelope).error).toMatchObject({
        code: 'FORBIDDEN',
        message: expect.stringMatching(/one-time password.*POST \/api\/auth\/password/),
        details: [{ path: 'session', message: 'password change required' }],
      });
    }
    expect((await session.post('/api/lots/1/notes', { text: 'nope' })).status).toBe(403);
    // The change lifts the gate for the session that made it.
    const changed = await session.post('/api/auth/password', { currentPassword: user.password, newPassword: 'a-good-long-password-0' });
    expect(changed.status).toBe(200);
    const cookie = sessionCookieOf(changed)!;
    expect(await (await fetch(`${app.url}/api/auth/me`, { headers: { cookie } })).json()).not.toHaveProperty('mustChangePassword');
    expect((await fetch(`${app.url}/admin/api/users`, { headers: { cookie } })).status).toBe(200);
    const [row] = await app.db.query<{ must_change_password: boolean }>('SELECT must_change_password FROM users WHERE id = $1', [user.id]);
    expect(row!.must_change_password).toBe(false);
  });

  it('logout works for a one-time-password session', async () => {
    const user = await newUser();
    const session = await loginWith(app.url, user.username, user.password);
    expect((await session.post('/api/auth/logout')).status).toBe(204);
  });

  it('changes the password under the policy, ends the other sessions and streams, and keeps this one under a new id', async () => {
    const user = await createUser(app, 'operator');
    const session = await loginWith(app.url, user.username, user.password);
    const other = await loginWith(app.url, user.username, user.password);
    const otherStream = await openStream(app.url, other.cookie);
    try {
      const change = (currentPassword: string, newPassword: string) => session.post('/api/auth/password', { currentPassword, newPassword });
      const expectRefused = async (response: Response, path: string, message: RegExp) => {
        expect(response.status).toBe(400);
        const error = ((await response.json()) as Envelope).error;
        expect(error.code).toBe('VALIDATION_FAILED');
        expect(error.details).toEqual([{ path, message: expect.stringMatching(message) }]);
      };
      await expectRefused(await change('wrong-current-password', 'a-good-long-password-1'), 'currentPassword', /not your current password/);
      await expectRefused(await change(user.password, 'too-short'), 'newPassword', /at least 12/);
      await expectRefused(await change(user.password, user.username.toUpperCase()), 'newPassword', /username/);
      await expectRefused(await change(user.password, user.password), 'newPassword', /differ from the current/);
      expect((await session.post('/api/auth/password', { currentPassword: user.password })).status).toBe(400);
      // A refused change ended nothing.
      expect((await other.get('/api/auth/me')).status).toBe(200);

      const ok = await change(user.password, 'a-good-long-password-1');
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ user: { id: user.id, username: user.username, role: 'operator' } });
      const cookie = sessionCookieOf(ok);
      expect(cookie).not.toBeNull();
      expect(cookie).not.toBe(session.cookie);
      // The old id is gone, the other session and its stream too; the new id works with the gate lifted.
      expect((await session.get('/api/auth/me')).status).toBe(401);
      expect((await other.get('/api/auth/me')).status).toBe(401);
      expect(await otherStream.waitForEnd(1000)).toBe('revoked');
      const me = await fetch(`${app.url}/api/auth/me`, { headers: { cookie: cookie! } });
      expect(await me.json()).toEqual({ user: { id: user.id, username: user.username, role: 'operator' } });
      expect((await fetch(`${app.url}/api/lots`, { headers: { cookie: cookie! } })).status).toBe(200);

      // The previous password is refused, and the old one no longer signs in.
      const renewed = await loginWith(app.url, user.username, 'a-good-long-password-1');
      const back = await renewed.post('/api/auth/password', { currentPassword: 'a-good-long-password-1', newPassword: user.password });
      await expectRefused(back, 'newPassword', /previous password/);
      await expect(loginWith(app.url, user.username, user.password)).rejects.toThrow(/answered 401/);
      const [audited] = await app.db.query<AuditRow>(`SELECT outcome, actor_id FROM admin_audit_log WHERE action = 'user.password.change' AND details->>'userId' = $1`, [String(user.id)]);
      expect(audited).toMatchObject({ actor_id: user.id });
    } finally {
      await otherStream.cancel();
    }
  });

  it('refuses directory users with FORBIDDEN', async () => {
    const local = await createUser(app, 'viewer');
    const session = await loginWith(app.url, local.username, local.password);
    // A session of a user the directory took over since (the same row, now source ldap).
    await app.db.query(`UPDATE users SET source = 'ldap' WHERE id = $1`, [local.id]);
    const response = await session.post('/api/auth/password', { currentPassword: local.password, newPassword: 'a-good-long-password-2' });
    expect(response.status).toBe(403);
    expect(((await response.json()) as Envelope).error.message).toMatch(/directory/);
  });

  it('the HTML login with a one-time password leads to /password, whose form changes it and goes on', async () => {
    const user = await newUser();
    const page = await fetch(`${app.url}/login`);
    const cookie = sessionCookieOf(page)!;
    const token = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const form = (fields: Record<string, string>) => ({
      method: 'POST',
      redirect: 'manual' as const,
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: app.url },
      body: new URLSearchParams(fields).toString(),
    });
    const login = await fetch(`${app.url}/login`, { ...form({ _csrf: token, username: user.username, password: user.password }), headers: { ...form({}).headers, cookie } });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/password');
    const sessionCookie = sessionCookieOf(login)!;
    const shown = await fetch(`${app.url}/password`, { headers: { cookie: sessionCookie } });
    expect(shown.status).toBe(200);
    const html = await shown.text();
    expect(html).toContain('one-time password');
    const pageToken = /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
    const fields = { _csrf: pageToken, username: user.username, currentPassword: user.password, newPassword: 'a-good-long-password-3', confirmPassword: 'a-good-long-password-3' };
    const mismatch = await fetch(`${app.url}/password`, { ...form({ ...fields, confirmPassword: 'something-else-entirely' }), headers: { ...form({}).headers, cookie: sessionCookie } });
    expect(mismatch.status).toBe(400);
    const done = await fetch(`${app.url}/password`, { ...form(fields), headers: { ...form({}).headers, cookie: sessionCookie } });
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe('/');
    const newCookie = sessionCookieOf(done)!;
    expect((await fetch(`${app.url}/api/lots`, { headers: { cookie: newCookie } })).status).toBe(200);
    // Without a session the page sends the browser to sign in.
    const anonymous = await fetch(`${app.url}/password`, { redirect: 'manual' });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toBe('/login');
  });
});

describe('the bootstrap admin with a generated password', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ ...SESSION_TEST_ENV, ADMIN_BOOTSTRAP_PASSWORD: undefined });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('treats the password printed in the log as a one-time password', async () => {
    const line = app.logs.lines.find((l) => l.includes('bootstrap admin created'));
    expect(line).toBeDefined();
    const password = (JSON.parse(line!) as { initialAdminPassword: string }).initialAdminPassword;
    const session = await loginWith(app.url, 'admin', password);
    expect(await (await session.get('/api/auth/me')).json()).toMatchObject({ mustChangePassword: true });
    expect((await session.get('/admin/api/system-status')).status).toBe(403);
    const changed = await session.post('/api/auth/password', { currentPassword: password, newPassword: 'the-admins-own-password' });
    expect(changed.status).toBe(200);
    expect((await fetch(`${app.url}/admin/api/system-status`, { headers: { cookie: sessionCookieOf(changed)! } })).status).toBe(200);
  });
});

describe('password changes under the per-IP reset budget (CONTRACT: password reset or similar 5/hour)', () => {
  let app: TestApp;
  beforeAll(async () => {
    // The shipped budget (RATE_LIMIT_RESET_PER_HOUR 5, the contract's figure); sessions in memory, so the count is this app's alone.
    const { RATE_LIMIT_RESET_PER_HOUR: _raised, ...env } = SESSION_TEST_ENV;
    app = await startTestApp(env);
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('the 6th change from one IP within the hour is 429 RATE_LIMITED, JSON and HTML form counted together', async () => {
    const user = await createUser(app, 'operator');
    let current = user.password;
    const form = (session: BrowserSession, currentPassword: string, newPassword: string) =>
      session.request('POST', '/password', {
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: session.csrfToken, currentPassword, newPassword, confirmPassword: newPassword }).toString(),
      });
    for (let i = 1; i <= 5; i += 1) {
      const session = await loginWith(app.url, user.username, current);
      const next = `reset-budget-password-${i}`;
      // The 3rd through the HTML form: one budget for both.
      const response = i === 3 ? await form(session, current, next) : await session.post('/api/auth/password', { currentPassword: current, newPassword: next });
      expect(response.status, `change ${i}`).toBe(i === 3 ? 303 : 200);
      current = next;
    }
    const session = await loginWith(app.url, user.username, current);
    const sixth = await session.post('/api/auth/password', { currentPassword: current, newPassword: 'reset-budget-password-6' });
    expect(sixth.status).toBe(429);
    expect(((await sixth.json()) as Envelope).error.code).toBe('RATE_LIMITED');
    expect(sixth.headers.get('retry-after')).not.toBeNull();
    expect((await form(session, current, 'reset-budget-password-6')).status).toBe(429);
    // Refused before the handler: the password did not change.
    expect((await session.get('/api/auth/me')).status).toBe(200);
    await loginWith(app.url, user.username, current);
  });
});
