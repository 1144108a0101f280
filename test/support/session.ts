import { randomBytes } from 'node:crypto';
import { PasswordHasher } from '../../src/auth/password-hasher.js';
import type { Role } from '../../src/database/entities/index.js';
import type { TestApp } from './app.js';

/**
 * Users, logins and session-aware requests for suites that need a session. Any suite that
 * logs in often should start its app with SESSION_TEST_ENV, or the per-IP login limit
 * (10/min), the per-IP anonymous-session limit (60/min) or the per-username failure budget
 * turns its later logins into 429s (and the per-IP password-change limit, 5/hour, its later changes).
 */
export const SESSION_TEST_ENV = {
  RATE_LIMIT_LOGIN_PER_MIN: '100000',
  RATE_LIMIT_ACCOUNT_PER_MIN: '100000',
  RATE_LIMIT_ANONYMOUS_PER_MIN: '100000',
  RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT: '100000',
  RATE_LIMIT_RESET_PER_HOUR: '100000',
  LDAP_FAILURES_PER_ACCOUNT: '100000',
} as const;

export interface TestUser {
  id: number;
  username: string;
  password: string;
  role: Role;
}

const hasher = new PasswordHasher();

/** A fresh user of the role (unique name), inserted straight into the app's database. */
export async function createUser(app: Pick<TestApp, 'db'>, role: Role, options: { disabled?: boolean } = {}): Promise<TestUser> {
  const username = `${role}_${randomBytes(4).toString('hex')}`;
  const password = `pw-${randomBytes(12).toString('base64url')}`;
  const hash = await hasher.hash(password);
  const [row] = await app.db.query<{ id: number }>(
    'INSERT INTO users (username, password_hash, role, disabled) VALUES ($1, $2, $3, $4) RETURNING id',
    [username, hash, role, options.disabled ?? false],
  );
  return { id: row!.id, username, password, role };
}

/** The `name=value` pair of the session cookie a response sets, or null. */
export function sessionCookieOf(response: Response): string | null {
  for (const line of response.headers.getSetCookie()) {
    const pair = line.split(';')[0]!;
    const name = pair.slice(0, pair.indexOf('='));
    if (name === 'sid' || name === '__Host-sid') return pair;
  }
  return null;
}

/** The session id inside a signed cookie (`sid=s%3A<id>.<signature>`), as the store keys it. */
export function sessionIdOf(cookie: string): string {
  const value = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1));
  if (!value.startsWith('s:')) throw new Error(`not a signed session cookie: ${cookie}`);
  return value.slice(2, value.lastIndexOf('.'));
}

export interface BrowserSession {
  baseUrl: string;
  cookie: string;
  csrfToken: string;
  /** The store's id of this session (for looking at its Redis key). */
  sid: string;
  /** Same-origin JSON headers: cookie, token, content type and this site's Origin. */
  headers(extra?: Record<string, string>): Record<string, string>;
  get(path: string, init?: RequestInit): Promise<Response>;
  /** JSON POST with cookie and token. */
  post(path: string, body?: unknown, init?: RequestInit): Promise<Response>;
  request(method: string, path: string, init?: RequestInit): Promise<Response>;
}

function browserSession(baseUrl: string, cookie: string, csrfToken: string): BrowserSession {
  const headers = (extra: Record<string, string> = {}) => ({
    cookie,
    'x-csrf-token': csrfToken,
    'content-type': 'application/json',
    origin: baseUrl,
    ...extra,
  });
  const request = (method: string, path: string, init: RequestInit = {}) =>
    fetch(`${baseUrl}${path}`, { ...init, method, headers: { ...headers(), ...(init.headers as Record<string, string> | undefined) } });
  return {
    baseUrl,
    cookie,
    csrfToken,
    sid: sessionIdOf(cookie),
    headers,
    get: (path, init = {}) => fetch(`${baseUrl}${path}`, { ...init, headers: { cookie, ...(init.headers as Record<string, string> | undefined) } }),
    post: (path, body, init = {}) => request('POST', path, { ...init, body: body === undefined ? undefined : JSON.stringify(body) }),
    request,
  };
}

/** A pre-login session: cookie and CSRF token from `GET /api/auth/csrf`. */
export async function anonymousSession(baseUrl: string): Promise<BrowserSession> {
  const response = await fetch(`${baseUrl}/api/auth/csrf`);
  if (response.status !== 200) throw new Error(`GET /api/auth/csrf answered ${response.status}: ${await response.text()}`);
  const cookie = sessionCookieOf(response);
  if (cookie === null) throw new Error('GET /api/auth/csrf set no session cookie');
  const { token } = (await response.json()) as { token: string };
  return browserSession(baseUrl, cookie, token);
}

/** The contract's flow: pre-session token, login, then the new session's token. */
export async function loginWith(baseUrl: string, username: string, password: string): Promise<BrowserSession> {
  const pre = await anonymousSession(baseUrl);
  const response = await pre.post('/api/auth/login', { username, password });
  if (response.status !== 200) throw new Error(`login as ${username} answered ${response.status}: ${await response.text()}`);
  const cookie = sessionCookieOf(response);
  if (cookie === null) throw new Error('login set no session cookie');
  const after = await fetch(`${baseUrl}/api/auth/csrf`, { headers: { cookie } });
  const { token } = (await after.json()) as { token: string };
  return browserSession(baseUrl, cookie, token);
}

export interface LoggedIn extends BrowserSession {
  user: TestUser;
}

/** A new user of the role, logged in. */
export async function loginAs(app: Pick<TestApp, 'db' | 'url'>, role: Role): Promise<LoggedIn> {
  const user = await createUser(app, role);
  return { ...(await loginWith(app.url, user.username, user.password)), user };
}
