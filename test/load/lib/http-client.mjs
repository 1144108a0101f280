// A browser-like client for one virtual user: one keep-alive connection, a cookie jar, the
// contract's login flow. node:http rather than fetch: on a 2-core machine the load generator
// shares the CPU with the app, and fetch costs several times more per request.
import http from 'node:http';

export class HttpError extends Error {
  constructor(step, status, body) {
    super(`${step} answered ${status}: ${String(body).slice(0, 300)}`);
    this.status = status;
  }
}

export class VirtualUser {
  /**
   * @param {string} baseUrl e.g. http://127.0.0.1:3000
   * @param {{ forwardedFor?: string, timeoutMs?: number }} options
   */
  constructor(baseUrl, options = {}) {
    const url = new URL(baseUrl);
    this.origin = url.origin;
    this.hostname = url.hostname;
    this.port = Number(url.port || 80);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.cookies = new Map();
    this.csrfToken = null;
    this.forwardedFor = options.forwardedFor;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  cookieHeader() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** One request; resolves `{status, body, ms}` (ms from write to last byte) or rejects on a network error. */
  request(method, path, { json, headers = {} } = {}) {
    const body = json === undefined ? undefined : JSON.stringify(json);
    const h = { accept: 'application/json', ...headers };
    if (this.cookies.size > 0) h.cookie = this.cookieHeader();
    if (this.forwardedFor) h['x-forwarded-for'] = this.forwardedFor;
    if (body !== undefined) {
      h['content-type'] = 'application/json';
      h['content-length'] = Buffer.byteLength(body);
    }
    if (method !== 'GET' && method !== 'HEAD') {
      h.origin = this.origin;
      if (this.csrfToken) h['x-csrf-token'] = this.csrfToken;
    }
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const req = http.request({ agent: this.agent, hostname: this.hostname, port: this.port, method, path, headers: h }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const ms = performance.now() - started;
          for (const raw of res.headers['set-cookie'] ?? []) {
            const [pair, ...attrs] = raw.split(';');
            const eq = pair.indexOf('=');
            const name = pair.slice(0, eq).trim();
            const value = pair.slice(eq + 1).trim();
            const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
            if (expired || value === '') this.cookies.delete(name);
            else this.cookies.set(name, value);
          }
          resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8'), ms });
        });
        res.on('error', reject);
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`timeout after ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  close() {
    this.agent.destroy();
  }
}

/** Parses a JSON body, or throws naming the step. */
export function parseJson(step, response) {
  try {
    return JSON.parse(response.body);
  } catch {
    throw new HttpError(step, response.status, `not JSON: ${response.body}`);
  }
}

/** The contract's sign-in (CSRF token, then login) for one account; its Cookie header. */
export async function signedInCookie(baseUrl, username, password) {
  const vu = new VirtualUser(baseUrl);
  try {
    const pre = await vu.request('GET', '/api/auth/csrf');
    if (pre.status !== 200) throw new HttpError('GET /api/auth/csrf', pre.status, pre.body);
    vu.csrfToken = parseJson('csrf', pre).token;
    const res = await vu.request('POST', '/api/auth/login', { json: { username, password } });
    if (res.status !== 200) throw new HttpError('POST /api/auth/login', res.status, res.body);
    return vu.cookieHeader();
  } finally {
    vu.close();
  }
}
