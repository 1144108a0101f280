import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { ApiClient, type ApiClientOptions, type FetchLike } from './client.js';
import { ApiError } from './errors.js';

const ORIGIN = 'http://rampart.test';
const CSRF = '/api/auth/csrf';

interface SentRequest {
  method: string;
  path: string;
  url: string;
  headers: Headers;
  body: string | undefined;
  credentials: RequestCredentials | undefined;
  at: number;
}

type Route = (request: SentRequest, nth: number) => Response | Promise<Response>;

/**
 * A fake server behind an injected fetch. It answers the CSRF endpoint itself with tokens
 * `tok-1`, `tok-2`, ... (a new one per fetch, as a regenerated session would) and hands every
 * other request to `route` with its 1-based position among the non-CSRF requests.
 */
function fakeServer(route: Route, csrfRoute?: Route) {
  const requests: SentRequest[] = [];
  let csrfCount = 0;
  let otherCount = 0;
  const fetch = vi.fn<FetchLike>(async (url, init) => {
    const parsed = new URL(url);
    const request: SentRequest = {
      method: init.method ?? 'GET',
      path: parsed.pathname + parsed.search,
      url,
      headers: new Headers(init.headers),
      body: typeof init.body === 'string' ? init.body : undefined,
      credentials: init.credentials,
      at: Date.now(),
    };
    requests.push(request);
    if (parsed.pathname === CSRF) {
      csrfCount += 1;
      return csrfRoute ? csrfRoute(request, csrfCount) : json(200, { token: `tok-${csrfCount}` });
    }
    otherCount += 1;
    return route(request, otherCount);
  });
  return {
    fetch,
    requests,
    csrfRequests: (): SentRequest[] => requests.filter((r) => r.path === CSRF),
    apiRequests: (): SentRequest[] => requests.filter((r) => r.path !== CSRF),
  };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', 'X-Correlation-ID': 'corr-header', ...headers },
  });
}

function failure(
  status: number,
  code: string,
  options: { retryable?: boolean; retryAfterMs?: number | null; header?: boolean } = {},
): Response {
  const retryAfterMs = options.retryAfterMs ?? null;
  const headers: Record<string, string> =
    retryAfterMs !== null && options.header !== false ? { 'Retry-After': String(Math.ceil(retryAfterMs / 1000)) } : {};
  return json(
    status,
    {
      error: { code, message: `${code} happened`, retryable: options.retryable ?? false, retryAfterMs, correlationId: 'corr-1' },
    },
    headers,
  );
}

const retryable503 = (code = 'DB_UNAVAILABLE', retryAfterMs: number | null = null): Response =>
  failure(503, code, { retryable: true, retryAfterMs });

/** Replies in order, repeating the last one. */
function script(...replies: Array<() => Response>): Route {
  return (_request, nth) => (replies[Math.min(nth, replies.length) - 1] as () => Response)();
}

function client(server: { fetch: FetchLike }, options: ApiClientOptions = {}): ApiClient {
  return new ApiClient({ baseUrl: ORIGIN, fetch: server.fetch, random: () => 0.5, ...options });
}

/** Observes a promise without awaiting it, so a test can step the fake clock and look. */
function track<T>(promise: Promise<T>) {
  const state: { status: 'pending' | 'fulfilled' | 'rejected'; value?: T; error?: unknown; at?: number } = {
    status: 'pending',
  };
  promise.then(
    (value) => Object.assign(state, { status: 'fulfilled', value, at: Date.now() }),
    (error: unknown) => Object.assign(state, { status: 'rejected', error, at: Date.now() }),
  );
  return state;
}

async function flush(): Promise<void> {
  await vi.advanceTimersByTimeAsync(0);
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2030-01-01T00:00:00Z'));
});

afterEach(() => {
  vi.useRealTimers();
});

describe('ApiClient CSRF handling', () => {
  it('fetches the token once and sends it only on unsafe methods, with credentials on every request', async () => {
    const server = fakeServer(() => json(200, { ok: true }));
    const api = client(server);

    await Promise.all([api.post('/api/a', { n: 1 }), api.put('/api/b', { n: 2 }), api.patch('/api/c', { n: 3 })]);
    await api.delete('/api/d');
    await api.get('/api/e');
    await api.request('HEAD', '/api/f');

    expect(server.csrfRequests()).toHaveLength(1);
    const byMethod = Object.fromEntries(server.apiRequests().map((r) => [r.method, r.headers.get('X-CSRF-Token')]));
    expect(byMethod).toEqual({ POST: 'tok-1', PUT: 'tok-1', PATCH: 'tok-1', DELETE: 'tok-1', GET: null, HEAD: null });
    expect(server.requests.every((r) => r.credentials === 'include')).toBe(true);
  });

  it('refreshes the token and replays the request once on CSRF_INVALID', async () => {
    const server = fakeServer(script(() => failure(403, 'CSRF_INVALID'), () => json(201, { id: 7 })));
    const api = client(server);

    await expect(api.lots.addNote(1, 'hello')).resolves.toEqual({ id: 7 });

    expect(server.csrfRequests()).toHaveLength(2);
    expect(server.apiRequests().map((r) => r.headers.get('X-CSRF-Token'))).toEqual(['tok-1', 'tok-2']);
  });

  it('gives up after one replay when the token is rejected again', async () => {
    const server = fakeServer(() => failure(403, 'CSRF_INVALID'));
    const api = client(server);

    await expect(api.post('/api/lots/1/notes', { text: 'x' })).rejects.toMatchObject({ code: 'CSRF_INVALID', status: 403 });

    expect(server.apiRequests()).toHaveLength(2);
    expect(server.csrfRequests()).toHaveLength(2);
  });

  it('refetches once, not once per call, when concurrent calls all see CSRF_INVALID', async () => {
    const server = fakeServer((request) =>
      request.headers.get('X-CSRF-Token') === 'tok-1' ? failure(403, 'CSRF_INVALID') : json(200, {}),
    );
    const api = client(server);

    await Promise.all(Array.from({ length: 5 }, (_, i) => api.post(`/api/w/${i}`, {})));

    expect(server.csrfRequests()).toHaveLength(2);
  });

  it('fetches a fresh token after login and after logout', async () => {
    const server = fakeServer((request) =>
      request.path === '/api/auth/login' ? json(200, { user: { id: 1, username: 'ada', role: 'operator' } }) : json(200, {}),
    );
    const api = client(server);

    await expect(api.login('ada', 'pw')).resolves.toEqual({ user: { id: 1, username: 'ada', role: 'operator' } });
    await api.lots.addNote(3, 'after login');
    await api.logout();
    await api.post('/api/after-logout', {});

    expect(server.apiRequests().map((r) => [r.path, r.headers.get('X-CSRF-Token')])).toEqual([
      ['/api/auth/login', 'tok-1'],
      ['/api/lots/3/notes', 'tok-2'],
      ['/api/auth/logout', 'tok-2'],
      ['/api/after-logout', 'tok-3'],
    ]);
    expect(JSON.parse(server.apiRequests()[0]?.body ?? '')).toEqual({ username: 'ada', password: 'pw' });
  });

  it('changePassword posts both passwords and fetches a fresh token afterwards (the session id changed)', async () => {
    const server = fakeServer((request) =>
      request.path === '/api/auth/password' ? json(200, { user: { id: 1, username: 'ada', role: 'operator' } }) : json(200, {}),
    );
    const api = client(server);

    await expect(api.changePassword('old-password', 'a-new-long-password')).resolves.toEqual({ user: { id: 1, username: 'ada', role: 'operator' } });
    await api.post('/api/after-change', {});

    expect(server.apiRequests().map((r) => [r.path, r.headers.get('X-CSRF-Token')])).toEqual([
      ['/api/auth/password', 'tok-1'],
      ['/api/after-change', 'tok-2'],
    ]);
    expect(JSON.parse(server.apiRequests()[0]?.body ?? '')).toEqual({ currentPassword: 'old-password', newPassword: 'a-new-long-password' });
  });

  it('does not cache a failed token fetch', async () => {
    const server = fakeServer(
      () => json(200, {}),
      (_request, nth) => (nth === 1 ? failure(500, 'INTERNAL') : json(200, { token: 'good' })),
    );
    const api = client(server);

    await expect(api.post('/api/x', {})).rejects.toMatchObject({ code: 'INTERNAL' });
    await api.post('/api/x', {});

    expect(server.apiRequests()).toHaveLength(1);
    expect(server.apiRequests()[0]?.headers.get('X-CSRF-Token')).toBe('good');
  });
});

describe('ApiClient retries', () => {
  it('retries a retryable 503 on GET no sooner than retryAfterMs', async () => {
    const server = fakeServer(script(() => retryable503('DB_UNAVAILABLE', 1500), () => json(200, { asOf: 'now', stations: [] })));
    const call = track(client(server).reports.wipSummary());

    await vi.advanceTimersByTimeAsync(1499);
    expect(server.apiRequests()).toHaveLength(1);
    expect(call.status).toBe('pending');

    await vi.advanceTimersByTimeAsync(1);
    expect(server.apiRequests()).toHaveLength(2);
    expect(call.status).toBe('fulfilled');
    expect(call.value).toEqual({ asOf: 'now', stations: [] });
  });

  it('honours a Retry-After header in seconds when there is no envelope', async () => {
    const server = fakeServer(
      script(
        () => new Response('<html>busy</html>', { status: 503, headers: { 'Content-Type': 'text/html', 'Retry-After': '3' } }),
        () => json(200, {}),
      ),
    );
    const call = track(client(server).get('/api/x'));

    await vi.advanceTimersByTimeAsync(2999);
    expect(server.apiRequests()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(server.apiRequests()).toHaveLength(2);
    expect(call.status).toBe('fulfilled');
  });

  it('honours a Retry-After header given as an HTTP date', async () => {
    const at = new Date(Date.now() + 5000).toUTCString();
    const server = fakeServer(
      script(() => new Response('', { status: 429, headers: { 'Retry-After': at } }), () => json(200, {})),
    );
    track(client(server).get('/api/x'));

    await vi.advanceTimersByTimeAsync(4999);
    expect(server.apiRequests()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(server.apiRequests()).toHaveLength(2);
  });

  it('does not retry a POST without an Idempotency-Key', async () => {
    const server = fakeServer(() => retryable503('DB_UNAVAILABLE', 100));
    const onGiveUp = vi.fn();
    const api = client(server, { hooks: { onGiveUp } });

    await expect(api.post('/api/lots/1/notes', { text: 'x' })).rejects.toMatchObject({ code: 'DB_UNAVAILABLE' });
    await vi.advanceTimersByTimeAsync(10_000);

    expect(server.apiRequests()).toHaveLength(1);
    expect(onGiveUp).toHaveBeenCalledWith(expect.objectContaining({ reason: 'not-retryable', attempt: 1 }));
  });

  it('retries a POST that carries an Idempotency-Key', async () => {
    const server = fakeServer(script(() => retryable503('DB_UNAVAILABLE', 100), () => json(201, { id: 1 })));
    const call = track(client(server).lots.addNote(1, 'x', { idempotencyKey: 'note-42' }));

    await vi.advanceTimersByTimeAsync(100);

    expect(call.status).toBe('fulfilled');
    expect(server.apiRequests().map((r) => r.headers.get('Idempotency-Key'))).toEqual(['note-42', 'note-42']);
  });

  it.each([
    [400, 'VALIDATION_FAILED'],
    [401, 'UNAUTHENTICATED'],
    [403, 'FORBIDDEN'],
    [404, 'NOT_FOUND'],
    [409, 'RESTART_BLOCKED'],
    [413, 'PAYLOAD_TOO_LARGE'],
    [415, 'UNSUPPORTED_MEDIA_TYPE'],
  ])('never retries %i %s, even on an idempotent method', async (status, code) => {
    const server = fakeServer(() => failure(status, code));
    const api = client(server);

    const error = await api.get('/api/x').catch((e: unknown) => e);
    await api.put('/api/x', {}).catch(() => undefined);
    await vi.advanceTimersByTimeAsync(60_000);

    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code, status, retryable: false, correlationId: 'corr-1' });
    expect(server.apiRequests()).toHaveLength(2);
  });

  it('retries a network failure as NETWORK_ERROR with status 0', async () => {
    const server = fakeServer(script(() => json(200, { fine: true })));
    server.fetch.mockRejectedValueOnce(new TypeError('Failed to fetch'));
    const onRetry = vi.fn();
    const call = track(client(server, { hooks: { onRetry }, random: () => 0 }).get('/api/x'));

    await flush();

    expect(call.status).toBe('fulfilled');
    expect(server.fetch).toHaveBeenCalledTimes(2);
    const error = onRetry.mock.calls[0]?.[0].error as ApiError;
    expect(error).toMatchObject({ code: 'NETWORK_ERROR', status: 0, retryable: true, isNetworkError: true });
    expect(error.cause).toBeInstanceOf(TypeError);
  });

  it('does not retry a fetch that rejects with AbortError', async () => {
    const server = fakeServer(() => json(200, {}));
    const aborted = new DOMException('aborted', 'AbortError');
    server.fetch.mockRejectedValueOnce(aborted);

    await expect(client(server).get('/api/x')).rejects.toBe(aborted);
    expect(server.fetch).toHaveBeenCalledTimes(1);
  });

  it('rejects with the abort reason when aborted while the request is in flight, without retrying', async () => {
    const server = fakeServer(() => json(200, {}));
    server.fetch.mockImplementationOnce(
      (_url, init) =>
        new Promise<Response>((_resolve, reject) => {
          init.signal?.addEventListener('abort', () => reject(init.signal?.reason), { once: true });
        }),
    );
    const controller = new AbortController();
    const call = track(client(server).get('/api/x', { signal: controller.signal }));
    await flush();

    const reason = new DOMException('timed out', 'TimeoutError');
    controller.abort(reason);
    await vi.advanceTimersByTimeAsync(10_000);

    expect(call.error).toBe(reason);
    expect(server.fetch).toHaveBeenCalledTimes(1);
  });

  it('turns a non-JSON error body into an HTTP_<status> ApiError', async () => {
    const server = fakeServer(
      script(
        () => new Response('<h1>Bad gateway</h1>', { status: 502, statusText: 'Bad Gateway', headers: { 'Content-Type': 'text/html' } }),
        () => new Response('oops', { status: 500 }),
      ),
    );
    const api = client(server);

    await expect(api.post('/api/x', {})).rejects.toMatchObject({ code: 'HTTP_502', status: 502, retryable: true, message: 'HTTP 502 Bad Gateway' });
    await expect(api.get('/api/x')).rejects.toMatchObject({ code: 'HTTP_500', status: 500, retryable: false });
  });

  it('spreads retries with full jitter between 0 and the capped exponential ceiling', async () => {
    const delaysWith = async (random: number): Promise<number[]> => {
      const server = fakeServer(() => retryable503());
      const onRetry = vi.fn();
      const api = client(server, { random: () => random, baseDelayMs: 100, maxDelayMs: 1000, maxAttempts: 7, hooks: { onRetry } });
      const call = track(api.get('/api/x'));
      await vi.advanceTimersByTimeAsync(10_000);
      expect(call.status).toBe('rejected');
      expect(server.apiRequests()).toHaveLength(7);
      return onRetry.mock.calls.map(([event]) => (event as { delayMs: number }).delayMs);
    };

    expect(await delaysWith(0.999)).toEqual([99, 199, 399, 799, 999, 999]);
    expect(await delaysWith(0)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('stops after maxAttempts and fails with the last error', async () => {
    let n = 0;
    const server = fakeServer(() => failure(503, 'DB_UNAVAILABLE', { retryable: true, retryAfterMs: 10 + n++ }));
    const onGiveUp = vi.fn();
    const call = track(client(server, { maxAttempts: 3, hooks: { onGiveUp } }).get('/api/x'));

    await vi.advanceTimersByTimeAsync(1000);

    expect(server.apiRequests()).toHaveLength(3);
    expect(call.status).toBe('rejected');
    expect(call.error).toMatchObject({ code: 'DB_UNAVAILABLE', retryAfterMs: 12 });
    expect(onGiveUp).toHaveBeenCalledWith(expect.objectContaining({ reason: 'max-attempts', attempt: 3 }));
  });

  it('does not start a wait that would overrun the time budget', async () => {
    const server = fakeServer(() => retryable503('DB_UNAVAILABLE', 400));
    const onGiveUp = vi.fn();
    const call = track(client(server, { maxAttempts: 10, budgetMs: 1000, hooks: { onGiveUp } }).get('/api/x'));
    const start = Date.now();

    await vi.advanceTimersByTimeAsync(5000);

    expect(server.apiRequests().map((r) => r.at - start)).toEqual([0, 400, 800]);
    expect(call.status).toBe('rejected');
    expect(call.at).toBe(start + 800);
    expect(call.error).toMatchObject({ code: 'DB_UNAVAILABLE' });
    expect(onGiveUp).toHaveBeenCalledWith(expect.objectContaining({ reason: 'budget' }));
  });

  it('rejects promptly with the abort reason when aborted during a wait, and sends nothing more', async () => {
    const server = fakeServer(() => retryable503('DB_UNAVAILABLE', 5000));
    const controller = new AbortController();
    const call = track(client(server).get('/api/x', { signal: controller.signal }));

    await vi.advanceTimersByTimeAsync(1000);
    const reason = new Error('navigated away');
    controller.abort(reason);
    await flush();

    expect(call.status).toBe('rejected');
    expect(call.error).toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(server.apiRequests()).toHaveLength(1);
  });
});

describe('ApiClient shared backoff', () => {
  it('holds twenty new calls after one sees DB_CIRCUIT_OPEN, then lets them all through', async () => {
    const server = fakeServer(script(() => retryable503('DB_CIRCUIT_OPEN', 3000), () => json(200, {})));
    const api = client(server);
    const first = track(api.get('/api/reports/wip-summary'));
    await flush();
    expect(server.apiRequests()).toHaveLength(1);

    const widgets = Array.from({ length: 20 }, (_, i) => track(api.get(`/api/widget/${i}`)));
    await vi.advanceTimersByTimeAsync(2999);
    expect(server.apiRequests()).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(1);
    // The first call's own retry plus the twenty, all at the moment the hold ends.
    expect(server.apiRequests()).toHaveLength(22);
    expect(new Set(server.apiRequests().slice(1).map((r) => r.at))).toEqual(new Set([server.apiRequests()[0]!.at + 3000]));
    expect([first, ...widgets].every((c) => c.status === 'fulfilled')).toBe(true);
  });

  it('makes a call started during the hold wait for the rest of it', async () => {
    const server = fakeServer(script(() => retryable503('DB_POOL_EXHAUSTED', 3000), () => json(200, {})));
    const api = client(server);
    track(api.get('/api/a'));
    await vi.advanceTimersByTimeAsync(1000);

    const late = track(api.put('/api/b', {}));
    await vi.advanceTimersByTimeAsync(1999);
    expect(server.apiRequests()).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(1);
    expect(late.status).toBe('fulfilled');
    expect(server.apiRequests().map((r) => r.at - Date.now())).toEqual([-3000, 0, 0]);
  });

  it('holds other calls even when the call that saw it is a POST that is not retried', async () => {
    const server = fakeServer(script(() => retryable503('DB_POOL_EXHAUSTED', 2000), () => json(200, {})));
    const api = client(server);
    await expect(api.post('/api/a', {})).rejects.toMatchObject({ code: 'DB_POOL_EXHAUSTED' });

    const next = track(api.get('/api/b'));
    await vi.advanceTimersByTimeAsync(1999);
    expect(next.status).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(next.status).toBe('fulfilled');
  });

  it('holds every call after an OVERLOADED answer, like the database codes (no herd on a shedding worker)', async () => {
    const server = fakeServer(script(() => retryable503('OVERLOADED', 1000), () => json(200, {})));
    const api = client(server);
    await expect(api.post('/api/a', {})).rejects.toMatchObject({ code: 'OVERLOADED', retryable: true });

    const next = track(api.get('/api/b'));
    await vi.advanceTimersByTimeAsync(999);
    expect(next.status).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(next.status).toBe('fulfilled');
  });

  it('a login refused with AUTH_PROVIDER_UNAVAILABLE is retryable with the server\'s wait, and holds nothing else (local users still sign in)', async () => {
    const server = fakeServer(script(() => retryable503('AUTH_PROVIDER_UNAVAILABLE', 5000), () => json(200, {})));
    const api = client(server);
    await expect(api.login('ada', 'pw')).rejects.toMatchObject({ code: 'AUTH_PROVIDER_UNAVAILABLE', status: 503, retryable: true, retryAfterMs: 5000 });
    // Not sent again by itself: a sign-in is not idempotent, and the caller shows the wait.
    expect(server.apiRequests()).toHaveLength(1);
    const next = track(api.get('/api/b'));
    await vi.advanceTimersByTimeAsync(0);
    expect(next.status).toBe('fulfilled');
  });

  it('lets a held call give up within its budget or on abort without sending anything', async () => {
    const server = fakeServer(script(() => retryable503('DB_CIRCUIT_OPEN', 3000), () => json(200, {})));
    const api = client(server);
    track(api.get('/api/a'));
    await flush();

    await expect(api.get('/api/short', { budgetMs: 1000 })).rejects.toMatchObject({ code: 'DB_CIRCUIT_OPEN' });

    const controller = new AbortController();
    const aborted = track(api.get('/api/abort', { signal: controller.signal }));
    await vi.advanceTimersByTimeAsync(500);
    controller.abort(new Error('closed widget'));
    await flush();
    expect(aborted.error).toEqual(new Error('closed widget'));

    expect(server.apiRequests().map((r) => r.path)).toEqual(['/api/a']);
  });

  it('extends the hold when a later call reports a longer delay', async () => {
    const server = fakeServer(
      script(
        () => retryable503('DB_CIRCUIT_OPEN', 1000),
        () => retryable503('DB_CIRCUIT_OPEN', 4000),
        () => json(200, {}),
      ),
    );
    const api = client(server);
    const first = track(api.get('/api/a'));
    await vi.advanceTimersByTimeAsync(1000);
    expect(server.apiRequests()).toHaveLength(2);

    const waiting = track(api.get('/api/b'));
    await vi.advanceTimersByTimeAsync(3999);
    expect(server.apiRequests()).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect([first.status, waiting.status]).toEqual(['fulfilled', 'fulfilled']);
  });

  it('keeps separate clients independent', async () => {
    const server = fakeServer(script(() => retryable503('DB_CIRCUIT_OPEN', 3000), () => json(200, {})));
    track(client(server).get('/api/a'));
    await flush();

    const other = track(client(server).get('/api/b'));
    await flush();

    expect(other.status).toBe('fulfilled');
  });
});

describe('ApiClient hooks', () => {
  it('reports each request, response, retry and the final give-up', async () => {
    const server = fakeServer(
      script(
        () => retryable503('DB_UNAVAILABLE', 100),
        () => json(200, {}),
        () => failure(409, 'RESTART_BLOCKED'),
      ),
    );
    const events: Array<[string, Record<string, unknown>]> = [];
    const record =
      (name: string) =>
      (event: object): void => {
        events.push([name, { ...event }]);
      };
    const api = client(server, {
      hooks: { onRequest: record('request'), onResponse: record('response'), onRetry: record('retry'), onGiveUp: record('giveUp') },
    });

    const get = track(api.get('/api/x'));
    await vi.advanceTimersByTimeAsync(100);
    expect(get.status).toBe('fulfilled');
    await expect(api.admin.restart({ reason: 'deploy' }, { headers: { 'X-CSRF-Token': 'preset' } })).rejects.toMatchObject({
      code: 'RESTART_BLOCKED',
    });

    const url = `${ORIGIN}/api/x`;
    const restartUrl = `${ORIGIN}/admin/api/worker/restart`;
    expect(events.map(([name, e]) => [name, e['url'], e['attempt']])).toEqual([
      ['request', url, 1],
      ['response', url, 1],
      ['retry', url, 1],
      ['request', url, 2],
      ['response', url, 2],
      ['request', restartUrl, 1],
      ['response', restartUrl, 1],
      ['giveUp', restartUrl, 1],
    ]);
    expect(events[1]?.[1]).toMatchObject({ status: 503, correlationId: 'corr-header', method: 'GET' });
    expect(events[2]?.[1]).toMatchObject({ delayMs: 100, error: expect.objectContaining({ code: 'DB_UNAVAILABLE' }) });
    expect(events[7]?.[1]).toMatchObject({ reason: 'not-retryable', method: 'POST' });
  });
});

describe('ApiClient typed endpoints', () => {
  it('builds paths, queries and bodies for the domain helpers', async () => {
    const server = fakeServer(() => json(200, {}));
    const api = client(server);

    await api.lots.list({ status: 'hold', limit: 50, cursor: undefined });
    await api.lots.get('a/b');
    await api.admin.workerStatus();
    await api.admin.restart({ reason: 'leak', acknowledgeOverride: true });
    await api.me();

    expect(server.apiRequests().map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /api/lots?status=hold&limit=50',
      'GET /api/lots/a%2Fb',
      'GET /admin/api/worker/status',
      'POST /admin/api/worker/restart',
      'GET /api/auth/me',
    ]);
    const restart = server.apiRequests()[3];
    expect(JSON.parse(restart?.body ?? '')).toEqual({ reason: 'leak', acknowledgeOverride: true });
    expect(restart?.headers.get('Content-Type')).toBe('application/json');
  });

  it('resolves an empty body to undefined and a non-JSON body to text', async () => {
    const server = fakeServer(
      script(
        () => new Response(null, { status: 204 }),
        () => new Response('plain', { status: 200, headers: { 'Content-Type': 'text/plain' } }),
      ),
    );
    const api = client(server);

    await expect(api.delete('/api/x')).resolves.toBeUndefined();
    await expect(api.get('/api/y')).resolves.toBe('plain');
  });

  it('carries validation details from the envelope', async () => {
    const details = [{ path: 'text', message: 'must not be empty' }];
    const server = fakeServer(() =>
      json(400, { error: { code: 'VALIDATION_FAILED', message: 'bad', retryable: false, retryAfterMs: null, correlationId: 'c9', details } }),
    );

    await expect(client(server).lots.addNote(1, '')).rejects.toMatchObject({ code: 'VALIDATION_FAILED', details, correlationId: 'c9' });
  });
});
