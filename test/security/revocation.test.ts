import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PasswordHasher } from '../../src/auth/password-hasher.js';
import { ACCOUNT_FRESH_MS } from '../../src/security/session/account-status.js';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { type BrowserSession, createUser, loginAs, loginWith, SESSION_TEST_ENV } from '../support/session.js';
import { openStream } from '../support/sse.js';

/** Past the per-worker memory of a user's row: a change made straight in SQL is now seen. */
const afterFreshness = () => new Promise((r) => setTimeout(r, ACCOUNT_FRESH_MS + 150));

const noteCount = async (app: TestApp) => (await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM lot_notes'))[0]!.n;

interface AuditRow {
  action: string;
  reason: string | null;
  outcome: string;
  actor_id: number | null;
  correlation_id: string | null;
  details: Record<string, unknown>;
}

/** Sessions end when their user changes, and an operator can end them all (single instance, sessions in memory). */
describe('session revocation', () => {
  let app: TestApp;
  let admin: BrowserSession;

  beforeAll(async () => {
    // A long periodic stream check: a stream that ends here was ended by the revocation itself.
    app = await startTestApp({ ...SESSION_TEST_ENV, SSE_SESSION_CHECK_MS: '60000' });
    admin = await loginWith(app.url, TEST_ADMIN.username, TEST_ADMIN.password);
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('a user disabled in SQL is 401 on the next request, writes nothing, and their open stream ends with "disabled"', async () => {
    const operator = await loginAs(app, 'operator');
    expect((await operator.post('/api/lots/1/notes', { text: 'before' })).status).toBe(201);
    const stream = await openStream(app.url, operator.cookie);
    try {
      await app.db.query('UPDATE users SET disabled = true WHERE id = $1', [operator.user.id]);
      await afterFreshness();
      const before = await noteCount(app);
      const write = await operator.post('/api/lots/1/notes', { text: 'after disabling' });
      expect(write.status).toBe(401);
      expect(((await write.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
      expect(await noteCount(app)).toBe(before);
      expect(await stream.waitForEnd(1000)).toBe('disabled');
      expect((await operator.get('/api/auth/me')).status).toBe(401);
      // Re-enabled, the old session stays dead: it was deleted, not merely refused.
      await app.db.query('UPDATE users SET disabled = false WHERE id = $1', [operator.user.id]);
      await afterFreshness();
      expect((await operator.get('/api/auth/me')).status).toBe(401);
    } finally {
      await stream.cancel();
    }
  });

  it('an admin demoted to viewer in SQL is 401 on the next /admin/api call, and must log in again to get the new role', async () => {
    const demoted = await loginAs(app, 'admin');
    expect((await demoted.get('/admin/api/system-status')).status).toBe(200);
    await app.db.query(`UPDATE users SET role = 'viewer' WHERE id = $1`, [demoted.user.id]);
    await afterFreshness();
    expect((await demoted.get('/admin/api/system-status')).status).toBe(401);
    expect((await demoted.get('/api/auth/me')).status).toBe(401);
    const again = await loginWith(app.url, demoted.user.username, demoted.user.password);
    expect((await again.get('/admin/api/system-status')).status).toBe(403);
    const me = (await (await again.get('/api/auth/me')).json()) as { user: { role: string } };
    expect(me.user.role).toBe('viewer');
  });

  it('a password changed in SQL ends the sessions made with the old one', async () => {
    const viewer = await loginAs(app, 'viewer');
    expect((await viewer.get('/api/auth/me')).status).toBe(200);
    const hash = await new PasswordHasher().hash('a-brand-new-password-123');
    await app.db.query('UPDATE users SET password_hash = $2 WHERE id = $1', [viewer.user.id, hash]);
    await afterFreshness();
    expect((await viewer.get('/api/auth/me')).status).toBe(401);
    const again = await loginWith(app.url, viewer.user.username, 'a-brand-new-password-123');
    await afterFreshness();
    expect((await again.get('/api/auth/me')).status).toBe(200);
  });

  it('an operator sign-out ends every session of the user at once (two logins), ends their streams, and is audited with reason and outcome', async () => {
    const user = await createUser(app, 'operator');
    const laptop = await loginWith(app.url, user.username, user.password);
    const phone = await loginWith(app.url, user.username, user.password);
    const bystander = await loginAs(app, 'operator');
    const stream = await openStream(app.url, phone.cookie);
    try {
      const response = await admin.post(`/admin/api/users/${user.id}/sign-out`, { reason: 'lost laptop, ticket 4711' });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ userId: user.id, revokedSessions: 2 });
      // No freshness wait: the sessions are gone from the store, not merely out of date.
      for (const session of [laptop, phone]) {
        expect((await session.get('/api/auth/me')).status).toBe(401);
        expect((await session.post('/api/lots/1/notes', { text: 'after sign-out' })).status).toBe(401);
      }
      expect(await stream.waitForEnd(1000)).toBe('revoked');
      expect((await bystander.get('/api/auth/me')).status).toBe(200);
      expect((await admin.get('/api/auth/me')).status).toBe(200);

      const rows = await app.db.query<AuditRow>(
        `SELECT action, reason, outcome, actor_id, correlation_id, details FROM admin_audit_log WHERE action = 'user.sign-out' AND details->>'userId' = $1 ORDER BY id`,
        [String(user.id)],
      );
      expect(rows.map((r) => r.outcome)).toEqual(['requested', 'signed out']);
      const adminId = (await app.db.query<{ id: number }>('SELECT id FROM users WHERE username = $1', [TEST_ADMIN.username]))[0]!.id;
      for (const row of rows) {
        expect(row).toMatchObject({ reason: 'lost laptop, ticket 4711', actor_id: adminId });
        expect(row.correlation_id).toBeTruthy();
      }
      expect(rows[1]!.details).toMatchObject({ userId: user.id, username: user.username, revokedSessions: 2 });
      // The user may sign in again (sign-out is not disabling).
      expect((await (await loginWith(app.url, user.username, user.password)).get('/api/auth/me')).status).toBe(200);
    } finally {
      await stream.cancel();
    }
  });

  it('refuses the sign-out to non-admins, without CSRF, with a bad id or reason; an unknown user is 404 and audited', async () => {
    const target = await loginAs(app, 'viewer');
    const operator = await loginAs(app, 'operator');
    expect((await operator.post(`/admin/api/users/${target.user.id}/sign-out`, { reason: 'not mine to do' })).status).toBe(403);
    const noToken = await fetch(`${app.url}/admin/api/users/${target.user.id}/sign-out`, {
      method: 'POST',
      headers: { ...admin.headers(), 'x-csrf-token': 'wrong' },
      body: JSON.stringify({ reason: 'no token' }),
    });
    expect(noToken.status).toBe(403);
    expect((await admin.post(`/admin/api/users/abc/sign-out`, { reason: 'not an id' })).status).toBe(400);
    expect((await admin.post(`/admin/api/users/${target.user.id}/sign-out`, {})).status).toBe(400);
    expect((await target.get('/api/auth/me')).status).toBe(200);

    const unknown = await admin.post('/admin/api/users/999999/sign-out', { reason: 'who is this' });
    expect(unknown.status).toBe(404);
    const [row] = await app.db.query<AuditRow>(`SELECT outcome, reason FROM admin_audit_log WHERE action = 'user.sign-out' AND details->>'userId' = '999999'`);
    expect(row).toMatchObject({ outcome: 'refused: NOT_FOUND', reason: 'who is this' });
  });

  it('documents the sign-out in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${app.url}/api/docs-json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(doc.paths['/admin/api/users/{id}/sign-out']?.post).toBeDefined();
  });
});
