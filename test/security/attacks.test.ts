import { createHmac } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { SHARED_REDIS_URL, startOwnRedis, uniquePrefix, type OwnRedis } from '../support/redis.js';
import {
  anonymousSession,
  createUser,
  loginAs,
  SESSION_TEST_ENV,
  sessionCookieOf,
  sessionIdOf,
} from '../support/session.js';

/**
 * Attacks a reviewer would try against sessions, CSRF and roles, each against the real
 * listening app with real Redis. Every case names the status it expects and checks that
 * nothing changed in PostgreSQL (and, where it matters, in Redis).
 */

const SECRET = 'attack-suite-session-secret-0123456789-abcdefghij';
const EVIL = 'https://evil.example';

interface Envelope {
  error: { code: string; retryable: boolean; retryAfterMs: number | null };
}

async function errorCode(response: Response): Promise<string> {
  return ((await response.json()) as Envelope).error.code;
}

/** What an attack could change: rows a write would add, users, audit entries. */
async function dbState(app: TestApp): Promise<Record<string, number>> {
  const [row] = await app.db.query<Record<string, number>>(
    `SELECT (SELECT count(*)::int FROM lot_notes) AS notes, (SELECT count(*)::int FROM users) AS users,
            (SELECT count(*)::int FROM admin_audit_log) AS audit`,
  );
  return row!;
}

/** A cookie signed the way express-session does it, with any secret. */
function signedCookie(id: string, secret: string): string {
  const signature = createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '');
  return `sid=${encodeURIComponent(`s:${id}.${signature}`)}`;
}

const noteBody = (text = 'attack') => JSON.stringify({ text });

describe('attacks on sessions, CSRF and roles', () => {
  let app: TestApp;
  let redis: Redis;
  let prefix: string;
  const sessionKey = (sid: string) => `${prefix}sess:${sid}`;

  beforeAll(async () => {
    prefix = uniquePrefix();
    app = await startTestApp({ ...SESSION_TEST_ENV, REDIS_URL: SHARED_REDIS_URL, REDIS_KEY_PREFIX: prefix, SESSION_SECRET: SECRET });
    redis = new Redis(SHARED_REDIS_URL);
  });
  afterAll(async () => {
    redis?.disconnect();
    await app?.stop();
  });

  describe('cross-site requests', () => {
    it('415: a cross-site text/plain form POST with the cookie and no token never reaches the API', async () => {
      const operator = await loginAs(app, 'operator');
      const before = await dbState(app);
      // <form enctype="text/plain"> is a "simple" request: no CORS preflight, the browser attaches the cookie.
      const response = await fetch(`${app.url}/api/lots/1/notes`, {
        method: 'POST',
        headers: { cookie: operator.cookie, 'content-type': 'text/plain', origin: EVIL, 'sec-fetch-site': 'cross-site' },
        body: '{"text":"pwned","x":"=y"}',
      });
      expect(response.status).toBe(415);
      expect(await errorCode(response)).toBe('UNSUPPORTED_MEDIA_TYPE');
      expect(await dbState(app)).toEqual(before);
    });

    it('415: form-encoded and multipart bodies are refused by JSON endpoints even from this site with a valid token', async () => {
      const operator = await loginAs(app, 'operator');
      const before = await dbState(app);
      const form = await operator.request('POST', '/api/lots/1/notes', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `text=pwned&_csrf=${operator.csrfToken}`,
      });
      expect(form.status).toBe(415);
      const multipart = new FormData();
      multipart.set('text', 'pwned');
      const { 'content-type': _json, ...withoutType } = operator.headers();
      const upload = await fetch(`${app.url}/api/lots/1/notes`, { method: 'POST', headers: withoutType, body: multipart });
      expect(upload.status).toBe(415);
      expect(await errorCode(upload)).toBe('UNSUPPORTED_MEDIA_TYPE');
      expect(await dbState(app)).toEqual(before);
    });

    it('403 CSRF_INVALID: Sec-Fetch-Site cross-site is refused even with a valid token', async () => {
      const operator = await loginAs(app, 'operator');
      const before = await dbState(app);
      const response = await operator.request('POST', '/api/lots/1/notes', {
        headers: { 'sec-fetch-site': 'cross-site' },
        body: noteBody(),
      });
      expect(response.status).toBe(403);
      expect(await errorCode(response)).toBe('CSRF_INVALID');
      expect(await dbState(app)).toEqual(before);
    });

    it('403 CSRF_INVALID: a foreign or opaque Origin is refused even with a valid token', async () => {
      const operator = await loginAs(app, 'operator');
      const before = await dbState(app);
      for (const origin of [EVIL, 'null', `http://127.0.0.1.evil.example:${app.port}`, `http://127.0.0.1:${app.port + 1}`]) {
        const response = await operator.request('POST', '/api/lots/1/notes', { headers: { origin }, body: noteBody() });
        expect(response.status, origin).toBe(403);
        expect(await errorCode(response)).toBe('CSRF_INVALID');
      }
      // The same request from this site's own origin goes through: the refusal above was the Origin.
      const own = await operator.post('/api/lots/1/notes', { text: 'from our own origin' });
      expect(own.status).toBe(201);
      expect(await dbState(app)).toEqual({ ...before, notes: before.notes + 1 });
    });
  });

  describe('tokens', () => {
    it('403 CSRF_INVALID: the token of session A with the cookie of session B', async () => {
      const a = await loginAs(app, 'operator');
      const b = await loginAs(app, 'operator');
      const before = await dbState(app);
      const response = await fetch(`${app.url}/api/lots/1/notes`, {
        method: 'POST',
        headers: b.headers({ 'x-csrf-token': a.csrfToken }),
        body: noteBody(),
      });
      expect(response.status).toBe(403);
      expect(await errorCode(response)).toBe('CSRF_INVALID');
      expect(await dbState(app)).toEqual(before);
    });

    it('403 CSRF_INVALID: a token only in the query string is not read', async () => {
      const operator = await loginAs(app, 'operator');
      const before = await dbState(app);
      const { 'x-csrf-token': _token, ...withoutToken } = operator.headers();
      for (const query of [`_csrf=${operator.csrfToken}`, `csrfToken=${operator.csrfToken}`, `x-csrf-token=${operator.csrfToken}`]) {
        const response = await fetch(`${app.url}/api/lots/1/notes?${query}`, { method: 'POST', headers: withoutToken, body: noteBody() });
        expect(response.status, query).toBe(403);
        expect(await errorCode(response)).toBe('CSRF_INVALID');
      }
      expect(await dbState(app)).toEqual(before);
    });

    it('403 CSRF_INVALID: X-HTTP-Method-Override: GET and ?_method=GET do not exempt a POST without a token', async () => {
      const operator = await loginAs(app, 'operator');
      const before = await dbState(app);
      const { 'x-csrf-token': _token, ...withoutToken } = operator.headers();
      const attempts: [string, Record<string, string>][] = [
        ['/api/lots/1/notes', { 'x-http-method-override': 'GET' }],
        ['/api/lots/1/notes', { 'x-http-method': 'GET', 'x-method-override': 'GET' }],
        ['/api/lots/1/notes?_method=GET', {}],
        ['/api/auth/logout?_method=GET', {}],
      ];
      for (const [path, extra] of attempts) {
        const response = await fetch(`${app.url}${path}`, { method: 'POST', headers: { ...withoutToken, ...extra }, body: noteBody() });
        expect(response.status, path).toBe(403);
        expect(await errorCode(response)).toBe('CSRF_INVALID');
      }
      // The logout attempt above did not log anyone out.
      expect((await operator.get('/api/auth/me')).status).toBe(200);
      expect(await dbState(app)).toEqual(before);
    });

    it('403 CSRF_INVALID: an unusual spelling of the path (/API/…/) is still checked', async () => {
      const operator = await loginAs(app, 'operator');
      const before = await dbState(app);
      const { 'x-csrf-token': _token, ...withoutToken } = operator.headers();
      for (const path of ['/API/lots/1/notes', '/Api/Lots/1/Notes/', '/api/lots/1/notes/']) {
        const response = await fetch(`${app.url}${path}`, { method: 'POST', headers: withoutToken, body: noteBody() });
        expect(response.status, path).toBe(403);
        expect(await errorCode(response)).toBe('CSRF_INVALID');
      }
      expect(await dbState(app)).toEqual(before);
    });

    it('403 CSRF_INVALID: login without a pre-session token, and nothing is stored', async () => {
      const operator = await createUser(app, 'operator');
      const before = await dbState(app);
      const keysBefore = await redis.keys(`${prefix}sess:*`);
      const bare = await fetch(`${app.url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: operator.username, password: operator.password }),
      });
      expect(bare.status).toBe(403);
      expect(await errorCode(bare)).toBe('CSRF_INVALID');
      expect(sessionCookieOf(bare)).toBeNull();
      // A made-up token without a session fares no better.
      const guessed = await fetch(`${app.url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': 'a'.repeat(64) },
        body: JSON.stringify({ username: operator.username, password: operator.password }),
      });
      expect(guessed.status).toBe(403);
      expect(sessionCookieOf(guessed)).toBeNull();
      // The HTML form's login path wants its _csrf field just the same.
      const form = await fetch(`${app.url}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ username: operator.username, password: operator.password }).toString(),
        redirect: 'manual',
      });
      expect(form.status).toBe(403);
      expect(sessionCookieOf(form)).toBeNull();
      expect((await redis.keys(`${prefix}sess:*`)).sort()).toEqual(keysBefore.sort());
      expect(await dbState(app)).toEqual(before);
    });
  });

  describe('session identity', () => {
    it('session fixation: a planted session id is not adopted, and login issues a new id and token', async () => {
      const before = await dbState(app);
      // 1. A raw, unsigned id of the attacker's choosing is ignored outright.
      const planted = await fetch(`${app.url}/api/auth/csrf`, { headers: { cookie: 'sid=attacker-chosen-session-id' } });
      expect(planted.status).toBe(200);
      const issued = sessionCookieOf(planted)!;
      expect(sessionIdOf(issued)).not.toBe('attacker-chosen-session-id');
      expect(await redis.exists(sessionKey('attacker-chosen-session-id'))).toBe(0);

      // 2. A genuine pre-login session the attacker obtained and planted in the victim's browser.
      const attacker = await anonymousSession(app.url);
      const victim = await createUser(app, 'operator');
      const login = await attacker.post('/api/auth/login', { username: victim.username, password: victim.password });
      expect(login.status).toBe(200);
      const afterLogin = sessionCookieOf(login)!;
      expect(sessionIdOf(afterLogin)).not.toBe(attacker.sid);
      expect(await redis.exists(sessionKey(attacker.sid))).toBe(0);
      expect(await redis.exists(sessionKey(sessionIdOf(afterLogin)))).toBe(1);
      // The attacker's copy of the cookie is worth nothing now.
      expect((await attacker.get('/api/auth/me')).status).toBe(401);
      // The logged-in session has a token of its own; the pre-login one no longer works.
      const fresh = (await (await fetch(`${app.url}/api/auth/csrf`, { headers: { cookie: afterLogin } })).json()) as { token: string };
      expect(fresh.token).not.toBe(attacker.csrfToken);
      const stale = await fetch(`${app.url}/api/lots/1/notes`, {
        method: 'POST',
        headers: { cookie: afterLogin, 'content-type': 'application/json', 'x-csrf-token': attacker.csrfToken },
        body: noteBody(),
      });
      expect(stale.status).toBe(403);
      expect(await dbState(app)).toEqual({ ...before, users: before.users + 1 });
    });

    it('401 UNAUTHENTICATED: forged, unsigned and wrongly signed session cookies', async () => {
      const operator = await loginAs(app, 'operator');
      const before = await dbState(app);
      const forged = [
        `sid=${operator.sid}`,
        `sid=${encodeURIComponent(`s:${operator.sid}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`)}`,
        signedCookie(operator.sid, 'some-other-secret-an-attacker-might-guess-000'),
        signedCookie(operator.sid, 'keyboard cat'),
        `sid=${encodeURIComponent(`s:${operator.sid}`)}`,
      ];
      for (const cookie of forged) {
        const response = await fetch(`${app.url}/api/auth/me`, { headers: { cookie } });
        expect(response.status, cookie).toBe(401);
        expect(await errorCode(response)).toBe('UNAUTHENTICATED');
      }
      // The genuine cookie of the same session still works: only the signature was wrong.
      expect((await operator.get('/api/auth/me')).status).toBe(200);
      expect(signedCookie(operator.sid, SECRET)).toBe(operator.cookie);
      expect(await dbState(app)).toEqual(before);
    });

    it('logout racing a slow write: the deleted session is not brought back when the slow request ends', async () => {
      const operator = await loginAs(app, 'operator');
      const locker = new pg.Client({ connectionString: app.db.url, application_name: 'test:locker' });
      await locker.connect();
      try {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE lot_notes IN ACCESS EXCLUSIVE MODE');
        // Authorised now, held up in PostgreSQL while the logout happens.
        const slow = operator.post('/api/lots/1/notes', { text: 'written before the logout' });
        await waitFor(async () => {
          const [row] = await app.db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'rampart:main' AND wait_event_type = 'Lock'`,
            [app.db.name],
          );
          return row!.n > 0;
        });
        const logout = await operator.post('/api/auth/logout');
        expect(logout.status).toBe(204);
        expect(await redis.exists(sessionKey(operator.sid))).toBe(0);
        await locker.query('ROLLBACK');
        const response = await slow;
        expect(response.status).toBe(201);
      } finally {
        await locker.end();
      }
      // The slow request's end-of-request session write found no key and wrote nothing.
      await new Promise((r) => setTimeout(r, 100));
      expect(await redis.exists(sessionKey(operator.sid))).toBe(0);
      expect((await operator.get('/api/auth/me')).status).toBe(401);
      const before = await dbState(app);
      const after = await operator.post('/api/lots/1/notes', { text: 'after logout' });
      expect(after.status).toBe(401);
      expect(await dbState(app)).toEqual(before);
    });
  });

  describe('roles and login', () => {
    it('403 FORBIDDEN: a viewer posting a note', async () => {
      const viewer = await loginAs(app, 'viewer');
      const before = await dbState(app);
      const response = await viewer.post('/api/lots/1/notes', { text: 'viewer write' });
      expect(response.status).toBe(403);
      expect(await errorCode(response)).toBe('FORBIDDEN');
      // Reads are what a viewer is for.
      expect((await viewer.get('/api/lots/1')).status).toBe(200);
      expect(await dbState(app)).toEqual(before);
    });

    it('401 UNAUTHENTICATED: reads without a session', async () => {
      for (const path of ['/api/lots', '/api/lots/1', '/api/reports/wip-summary', '/api/auth/me']) {
        const response = await fetch(`${app.url}${path}`);
        expect(response.status, path).toBe(401);
        expect(await errorCode(response)).toBe('UNAUTHENTICATED');
      }
    });

    it('401 with one generic message for a wrong password, an unknown user and a disabled user', async () => {
      const known = await createUser(app, 'operator');
      const disabled = await createUser(app, 'operator', { disabled: true });
      const before = await dbState(app);
      const attempt = async (username: string, password: string) => {
        const pre = await anonymousSession(app.url);
        const started = performance.now();
        const response = await pre.post('/api/auth/login', { username, password });
        const ms = performance.now() - started;
        const body = (await response.json()) as Envelope & { error: { message: string } };
        return { status: response.status, code: body.error.code, message: body.error.message, ms, cookie: sessionCookieOf(response) };
      };
      const results = {
        wrong: await attempt(known.username, 'not-the-password'),
        unknown: await attempt('nobody-by-this-name', 'whatever-password'),
        disabled: await attempt(disabled.username, disabled.password),
      };
      for (const result of Object.values(results)) {
        expect(result).toMatchObject({ status: 401, code: 'UNAUTHENTICATED', message: results.wrong.message, cookie: null });
      }
      // Unknown users pay for an argon2 verify too (medians of several tries; generous bound for CI noise).
      const median = async (username: string, password: string) => {
        const times: number[] = [];
        for (let i = 0; i < 5; i += 1) times.push((await attempt(username, password)).ms);
        return times.sort((a, b) => a - b)[2]!;
      };
      const knownMs = await median(known.username, 'not-the-password');
      const unknownMs = await median('nobody-by-this-name', 'whatever-password');
      expect(unknownMs).toBeGreaterThan(knownMs * 0.5);
      expect(unknownMs).toBeLessThan(knownMs * 2);
      expect(await dbState(app)).toEqual(before);
    });

    it('HTML login: the form carries _csrf, success redirects 303 by role, failure re-renders with 401', async () => {
      const admin = await createUser(app, 'admin');
      const operator = await createUser(app, 'operator');
      const before = await dbState(app);
      const formLogin = async (username: string, password: string) => {
        const page = await fetch(`${app.url}/login`);
        expect(page.status).toBe(200);
        expect(page.headers.get('content-type')).toMatch(/^text\/html/);
        const cookie = sessionCookieOf(page)!;
        const html = await page.text();
        const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
        expect(token).toBeTruthy();
        return fetch(`${app.url}/login`, {
          method: 'POST',
          headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: app.url, 'sec-fetch-site': 'same-origin' },
          body: new URLSearchParams({ username, password, _csrf: token! }).toString(),
          redirect: 'manual',
        });
      };
      const asAdmin = await formLogin(admin.username, admin.password);
      expect(asAdmin.status).toBe(303);
      expect(asAdmin.headers.get('location')).toBe('/admin');
      expect(sessionCookieOf(asAdmin)).not.toBeNull();
      const asOperator = await formLogin(operator.username, operator.password);
      expect(asOperator.status).toBe(303);
      expect(asOperator.headers.get('location')).toBe('/');
      const me = await fetch(`${app.url}/api/auth/me`, { headers: { cookie: sessionCookieOf(asOperator)! } });
      expect(((await me.json()) as { user: { username: string } }).user.username).toBe(operator.username);
      const failed = await formLogin(operator.username, 'wrong-password');
      expect(failed.status).toBe(401);
      const html = await failed.text();
      expect(html).toContain('Invalid username or password');
      expect(html).toMatch(/name="_csrf" value="[0-9a-f]{64}"/);
      expect(await dbState(app)).toEqual(before);
    });
  });

  it('routes that need no session neither read nor create one', async () => {
    const operator = await loginAs(app, 'operator');
    const keysBefore = (await redis.keys(`${prefix}sess:*`)).length;
    await new Promise((r) => setTimeout(r, 50));
    // Any use of the session would slide its TTL back up to the full idle timeout.
    const ttlBefore = await redis.pttl(sessionKey(operator.sid));
    for (const path of ['/api/docs-json', '/api/docs', '/health/live', '/metrics', '/nope']) {
      for (const headers of [{}, { cookie: operator.cookie }] as Record<string, string>[]) {
        const response = await fetch(`${app.url}${path}`, { headers });
        await response.arrayBuffer();
        expect(sessionCookieOf(response), path).toBeNull();
      }
    }
    expect((await redis.keys(`${prefix}sess:*`)).length).toBe(keysBefore);
    expect(await redis.pttl(sessionKey(operator.sid))).toBeLessThanOrEqual(ttlBefore);
  });
});

describe('attacks on session lifetime', () => {
  let app: TestApp;
  let redis: Redis;
  let prefix: string;

  beforeAll(async () => {
    prefix = uniquePrefix();
    app = await startTestApp({
      ...SESSION_TEST_ENV,
      REDIS_URL: SHARED_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      SESSION_IDLE_TIMEOUT_S: '2',
      SESSION_ABSOLUTE_TIMEOUT_S: '4',
      SESSION_ANONYMOUS_TIMEOUT_S: '1',
    });
    redis = new Redis(SHARED_REDIS_URL);
  });
  afterAll(async () => {
    redis?.disconnect();
    await app?.stop();
  });

  it('401 after the idle timeout without use', async () => {
    const operator = await loginAs(app, 'operator');
    expect(await redis.pttl(`${prefix}sess:${operator.sid}`)).toBeLessThanOrEqual(2000);
    await sleep(2600);
    const response = await operator.get('/api/auth/me');
    expect(response.status).toBe(401);
    expect(await redis.exists(`${prefix}sess:${operator.sid}`)).toBe(0);
  });

  it('the idle timeout slides with use, and the absolute timeout ends the session anyway', async () => {
    const operator = await loginAs(app, 'operator');
    const started = Date.now();
    // Each request is within the 2 s idle timeout of the last; together they outlast it.
    for (const at of [1000, 2000, 3000]) {
      await sleep(started + at - Date.now());
      expect((await operator.get('/api/auth/me')).status, `at ${at} ms`).toBe(200);
    }
    const before = await dbState(app);
    // 4.3 s after login: only 1.3 s idle, but past the 4 s absolute timeout.
    await sleep(started + 4300 - Date.now());
    const late = await operator.post('/api/lots/1/notes', { text: 'past the absolute timeout' });
    // The session is gone: 401 before any CSRF check, so the client signs in again.
    expect(late.status).toBe(401);
    expect(await errorCode(late)).toBe('UNAUTHENTICATED');
    expect((await operator.get('/api/auth/me')).status).toBe(401);
    expect(await redis.exists(`${prefix}sess:${operator.sid}`)).toBe(0);
    expect(await dbState(app)).toEqual(before);
  });

  it('an anonymous pre-login session expires within SESSION_ANONYMOUS_TIMEOUT_S', async () => {
    const user = await createUser(app, 'operator');
    const pre = await anonymousSession(app.url);
    expect(await redis.pttl(`${prefix}sess:${pre.sid}`)).toBeLessThanOrEqual(1000);
    await sleep(1500);
    const response = await pre.post('/api/auth/login', { username: user.username, password: user.password });
    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe('CSRF_INVALID');
    expect(sessionCookieOf(response)).toBeNull();
  });
});

describe('attacks while Redis is down', () => {
  let app: TestApp;
  let ownRedis: OwnRedis;

  beforeAll(async () => {
    ownRedis = await startOwnRedis();
    app = await startTestApp({ ...SESSION_TEST_ENV, REDIS_URL: ownRedis.url, REDIS_KEY_PREFIX: uniquePrefix() });
  });
  afterAll(async () => {
    await app?.stop();
    await ownRedis?.stop();
  });

  it('503 SESSION_STORE_UNAVAILABLE, never an anonymous 200, when the session store is unreachable', async () => {
    const operator = await loginAs(app, 'operator');
    const before = await dbState(app);
    await ownRedis.stop();

    const me = await operator.get('/api/auth/me');
    expect(me.status).toBe(503);
    const body = (await me.json()) as Envelope;
    expect(body.error).toMatchObject({ code: 'SESSION_STORE_UNAVAILABLE', retryable: true });
    expect(me.headers.get('retry-after')).toBe(String(Math.ceil(body.error.retryAfterMs! / 1000)));

    const write = await operator.post('/api/lots/1/notes', { text: 'while redis is down' });
    expect(write.status).toBe(503);
    expect(await errorCode(write)).toBe('SESSION_STORE_UNAVAILABLE');

    // A new visitor cannot get a session (and so no token) either, and no reads go out anonymously.
    const token = await fetch(`${app.url}/api/auth/csrf`);
    expect(token.status).toBe(503);
    expect(sessionCookieOf(token)).toBeNull();
    expect((await fetch(`${app.url}/api/lots`)).status).toBe(401);

    // Routes without sessions do not depend on the store at all.
    expect((await fetch(`${app.url}/api/docs-json`, { headers: { cookie: operator.cookie } })).status).toBe(200);
    expect(await dbState(app)).toEqual(before);
  });
});

describe('CSRF_MODE=report-only', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ ...SESSION_TEST_ENV, REDIS_URL: SHARED_REDIS_URL, REDIS_KEY_PREFIX: uniquePrefix(), CSRF_MODE: 'report-only' });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('lets a request without a token through with X-CSRF-Would-Block: 1 and a warning naming the route', async () => {
    const operator = await loginAs(app, 'operator');
    const before = await dbState(app);
    const { 'x-csrf-token': _token, ...withoutToken } = operator.headers();
    const response = await fetch(`${app.url}/api/lots/1/notes?q=1`, { method: 'POST', headers: withoutToken, body: noteBody('report-only') });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-csrf-would-block')).toBe('1');
    expect(await dbState(app)).toEqual({ ...before, notes: before.notes + 1 });
    // The request's own line, not the start-up announcement of the mode.
    const warning = app.logs.entries().find((e) => e.level === 'warn' && String(e.msg).includes('CSRF') && e.path !== undefined);
    expect(warning).toMatchObject({ method: 'POST', path: '/api/lots/1/notes', reason: 'missing or invalid CSRF token', userId: operator.user.id });

    // A request that passes the check carries no such header.
    const valid = await operator.post('/api/lots/1/notes', { text: 'valid' });
    expect(valid.status).toBe(201);
    expect(valid.headers.get('x-csrf-would-block')).toBeNull();
    // Content types stay enforced: report-only concerns the CSRF decision only.
    const plain = await fetch(`${app.url}/api/lots/1/notes`, { method: 'POST', headers: { ...withoutToken, 'content-type': 'text/plain' }, body: 'x' });
    expect(plain.status).toBe(415);
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await sleep(25);
  }
}
