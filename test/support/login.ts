/**
 * The contract's login flow, for suites that need a session but test something else:
 * pre-session CSRF token, login, then the new session's token.
 */
export interface Session {
  cookie: string;
  csrfToken: string;
  /** Headers for a JSON request in this session (cookie, CSRF token, content type). */
  headers(extra?: Record<string, string>): Record<string, string>;
}

function cookieFrom(response: Response, previous = ''): string {
  const setCookies = response.headers.getSetCookie();
  if (setCookies.length === 0) return previous;
  return setCookies.map((c) => c.split(';')[0]).join('; ');
}

export async function login(baseUrl: string, username: string, password: string): Promise<Session> {
  const pre = await fetch(`${baseUrl}/api/auth/csrf`);
  if (!pre.ok) throw new Error(`GET /api/auth/csrf answered ${pre.status}`);
  let cookie = cookieFrom(pre);
  const { token } = (await pre.json()) as { token: string };
  const response = await fetch(`${baseUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-csrf-token': token, cookie, origin: baseUrl },
    body: JSON.stringify({ username, password }),
  });
  if (response.status !== 200) throw new Error(`login answered ${response.status}: ${await response.text()}`);
  cookie = cookieFrom(response, cookie);
  const after = await fetch(`${baseUrl}/api/auth/csrf`, { headers: { cookie } });
  const { token: csrfToken } = (await after.json()) as { token: string };
  cookie = cookieFrom(after, cookie);
  return {
    cookie,
    csrfToken,
    headers: (extra = {}) => ({ cookie, 'x-csrf-token': csrfToken, 'content-type': 'application/json', origin: baseUrl, ...extra }),
  };
}
