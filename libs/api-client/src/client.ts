import { abortableSleep, isAbortError, raceAbort, throwIfAborted } from './abort.js';
import { ApiError, isErrorEnvelope, type ApiErrorCode } from './errors.js';
import {
  backoffCeiling,
  fullJitterDelay,
  isIdempotent,
  isUnsafeMethod,
  parseRetryAfter,
  type HttpMethod,
} from './retry.js';
import type {
  CsrfResponse,
  EquipmentStatusReport,
  LotDetail,
  LotListParams,
  LotNote,
  LotPage,
  RestartAccepted,
  RestartRequest,
  SessionResponse,
  WipSummary,
  WorkerStatus,
} from './types.js';

/** The subset of `fetch` the client calls, so a test double need not model every overload. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export type QueryParams = Record<string, string | number | boolean | null | undefined>;

export interface RequestEvent {
  method: HttpMethod;
  url: string;
  /** 1 for the first send of a call, counting every send including a CSRF replay. */
  attempt: number;
}

export interface ResponseEvent extends RequestEvent {
  status: number;
  durationMs: number;
  correlationId: string | null;
}

export interface RetryEvent extends RequestEvent {
  /** How long the call waits before its next send (its own delay or the shared hold, whichever is later). */
  delayMs: number;
  error: ApiError;
}

export type GiveUpReason = 'not-retryable' | 'max-attempts' | 'budget';

export interface GiveUpEvent extends RequestEvent {
  error: ApiError;
  reason: GiveUpReason;
}

/** Called synchronously; they must not throw (an exception fails the call it was reporting on). */
export interface ApiClientHooks {
  onRequest?(event: RequestEvent): void;
  onResponse?(event: ResponseEvent): void;
  onRetry?(event: RetryEvent): void;
  onGiveUp?(event: GiveUpEvent): void;
}

export interface RetryPolicy {
  /** Sends per call, the first included (a CSRF replay is not counted). Default 4. */
  maxAttempts?: number;
  /** No wait is started that would end later than this many ms after the call began. Default 30 000. */
  budgetMs?: number;
  /** Backoff base and cap for errors without a server-given delay. Defaults 250 and 10 000. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export interface ApiClientOptions extends RetryPolicy {
  /** Origin (and optional prefix) the paths are appended to; '' means same origin (browsers only). */
  baseUrl?: string;
  fetch?: FetchLike;
  /** Sent on every request; per-call headers win. */
  headers?: HeadersInit;
  hooks?: ApiClientHooks;
  /**
   * Codes after which every call through this client holds until the server's delay has
   * passed. Default: `DB_CIRCUIT_OPEN`, `DB_POOL_EXHAUSTED`, `OVERLOADED`.
   */
  sharedBackoffCodes?: readonly ApiErrorCode[];
  now?: () => number;
  /** Must reject with the signal's reason when it aborts; the default does, and clears its timer. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** In [0, 1). */
  random?: () => number;
}

export interface RequestOptions extends Pick<RetryPolicy, 'maxAttempts' | 'budgetMs'> {
  headers?: HeadersInit;
  query?: QueryParams;
  signal?: AbortSignal;
  /** Sets `Idempotency-Key`, which makes a POST or PATCH retryable. */
  idempotencyKey?: string;
}

const CSRF_PATH = '/api/auth/csrf';
const DEFAULT_SHARED_BACKOFF: readonly ApiErrorCode[] = ['DB_CIRCUIT_OPEN', 'DB_POOL_EXHAUSTED', 'OVERLOADED'];
// Without an envelope the status is all there is; these are the ones proxies and load
// balancers answer with while a backend restarts or sheds load.
const TRANSIENT_STATUSES = new Set([429, 502, 503, 504]);

interface Call {
  method: HttpMethod;
  url: string;
  signal: AbortSignal | undefined;
  deadline: number;
  attempt: number;
}

type AttemptOutcome<T> = { ok: true; value: T } | { ok: false; error: ApiError };

export class ApiClient {
  readonly reports = {
    wipSummary: (init?: RequestOptions): Promise<WipSummary> => this.get('/api/reports/wip-summary', init),
    equipmentStatus: (init?: RequestOptions): Promise<EquipmentStatusReport> =>
      this.get('/api/reports/equipment-status', init),
  };

  readonly lots = {
    list: (params: LotListParams = {}, init?: RequestOptions): Promise<LotPage> =>
      this.get('/api/lots', { ...init, query: { ...init?.query, ...params } }),
    get: (id: number | string, init?: RequestOptions): Promise<LotDetail> =>
      this.get(`/api/lots/${encodeURIComponent(String(id))}`, init),
    addNote: (id: number | string, text: string, init?: RequestOptions): Promise<LotNote> =>
      this.post(`/api/lots/${encodeURIComponent(String(id))}/notes`, { text }, init),
  };

  readonly admin = {
    workerStatus: (init?: RequestOptions): Promise<WorkerStatus> => this.get('/admin/api/worker/status', init),
    restart: (request: RestartRequest, init?: RequestOptions): Promise<RestartAccepted> =>
      this.post('/admin/api/worker/restart', request, init),
  };

  private readonly baseUrl: string;
  private readonly fetchImpl: FetchLike;
  private readonly defaultHeaders: HeadersInit | undefined;
  private readonly hooks: ApiClientHooks;
  private readonly sharedBackoffCodes: ReadonlySet<string>;
  private readonly maxAttempts: number;
  private readonly budgetMs: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;

  /** One token fetch shared by every concurrent unsafe call; null until needed or after it went stale. */
  private csrfToken: Promise<string> | null = null;
  /** The shared backoff: no call sends before `until`; `error` is what a call that cannot wait fails with. */
  private hold: { until: number; error: ApiError } | null = null;

  constructor(options: ApiClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? '').replace(/\/+$/, '');
    // Resolved per call: a browser's fetch throws "Illegal invocation" when detached from
    // window, and tests may stub globalThis.fetch after the client was built.
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.defaultHeaders = options.headers;
    this.hooks = options.hooks ?? {};
    this.sharedBackoffCodes = new Set(options.sharedBackoffCodes ?? DEFAULT_SHARED_BACKOFF);
    this.maxAttempts = options.maxAttempts ?? 4;
    this.budgetMs = options.budgetMs ?? 30_000;
    this.baseDelayMs = options.baseDelayMs ?? 250;
    this.maxDelayMs = options.maxDelayMs ?? 10_000;
    // Late-bound so fake clocks installed after construction still apply.
    this.now = options.now ?? (() => Date.now());
    this.sleep = options.sleep ?? abortableSleep;
    this.random = options.random ?? Math.random;
  }

  get<T>(path: string, init?: RequestOptions): Promise<T> {
    return this.request<T>('GET', path, undefined, init);
  }

  post<T>(path: string, body?: unknown, init?: RequestOptions): Promise<T> {
    return this.request<T>('POST', path, body, init);
  }

  put<T>(path: string, body?: unknown, init?: RequestOptions): Promise<T> {
    return this.request<T>('PUT', path, body, init);
  }

  patch<T>(path: string, body?: unknown, init?: RequestOptions): Promise<T> {
    return this.request<T>('PATCH', path, body, init);
  }

  delete<T>(path: string, init?: RequestOptions): Promise<T> {
    return this.request<T>('DELETE', path, undefined, init);
  }

  async login(username: string, password: string, init?: RequestOptions): Promise<SessionResponse> {
    const session = await this.post<SessionResponse>('/api/auth/login', { username, password }, init);
    // The server regenerates the session id at login and the token belongs to the old one.
    this.csrfToken = null;
    return session;
  }

  async logout(init?: RequestOptions): Promise<void> {
    try {
      await this.post<unknown>('/api/auth/logout', undefined, init);
    } finally {
      // Even a failed logout may have destroyed the session server-side; a stale token
      // would only cost a CSRF_INVALID round trip, but there is no reason to keep it.
      this.csrfToken = null;
    }
  }

  /**
   * Changes the signed-in user's own password (current one required). The server ends the
   * user's other sessions and moves this one to a new id, so the CSRF token is fetched anew.
   * Refusals: VALIDATION_FAILED with `details` (wrong current password, policy), FORBIDDEN for
   * directory users.
   */
  async changePassword(currentPassword: string, newPassword: string, init?: RequestOptions): Promise<SessionResponse> {
    try {
      return await this.post<SessionResponse>('/api/auth/password', { currentPassword, newPassword }, init);
    } finally {
      // Also after a failure: a 503 may have come after the session id was already changed.
      this.csrfToken = null;
    }
  }

  me(init?: RequestOptions): Promise<SessionResponse> {
    return this.get<SessionResponse>('/api/auth/me', init);
  }

  /**
   * Sends one call, retrying what is safe to retry. Resolves with the parsed body (JSON, text,
   * or undefined when empty); rejects with an ApiError, or with the signal's reason on abort.
   */
  async request<T>(method: HttpMethod, path: string, body?: unknown, init: RequestOptions = {}): Promise<T> {
    const headers = new Headers(this.defaultHeaders);
    new Headers(init.headers).forEach((value, name) => headers.set(name, value));
    if (init.idempotencyKey !== undefined) headers.set('Idempotency-Key', init.idempotencyKey);
    if (!headers.has('Accept')) headers.set('Accept', 'application/json');
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined && !headers.has('Content-Type')) headers.set('Content-Type', 'application/json');

    const call: Call = {
      method,
      url: this.buildUrl(path, init.query),
      signal: init.signal,
      deadline: this.now() + (init.budgetMs ?? this.budgetMs),
      attempt: 0,
    };
    const unsafe = isUnsafeMethod(method);
    const idempotent = isIdempotent(method, headers);
    const maxAttempts = init.maxAttempts ?? this.maxAttempts;
    let csrfReplayed = false;
    let notBefore = 0;
    let lastError: ApiError | undefined;

    for (;;) {
      await this.waitForTurn(call, notBefore, lastError);
      call.attempt += 1;
      const outcome = await this.attempt<T>(call, headers, payload, unsafe);
      if (outcome.ok) return outcome.value;

      const error = outcome.error;
      lastError = error;
      // Counted sends exclude the CSRF replay: it repairs client state, it is not a retry.
      const counted = call.attempt - (csrfReplayed ? 1 : 0);
      if (this.sharedBackoffCodes.has(error.code)) this.extendHold(error, counted);

      // Rejected before any handler ran, so replaying even a non-idempotent POST is safe.
      if (error.code === 'CSRF_INVALID' && unsafe && !csrfReplayed) {
        csrfReplayed = true;
        this.hooks.onRetry?.({ ...this.event(call), delayMs: 0, error });
        continue;
      }
      if (!error.retryable || !idempotent) throw this.giveUp(call, error, 'not-retryable');
      if (counted >= maxAttempts) throw this.giveUp(call, error, 'max-attempts');

      const ownDelay = error.retryAfterMs ?? fullJitterDelay(counted - 1, this.baseDelayMs, this.maxDelayMs, this.random);
      const now = this.now();
      notBefore = now + ownDelay;
      const delayMs = Math.max(notBefore, this.hold?.until ?? 0) - now;
      if (now + delayMs > call.deadline) throw this.giveUp(call, error, 'budget');
      this.hooks.onRetry?.({ ...this.event(call), delayMs, error });
    }
  }

  /** Waits out this call's own retry delay and the shared hold, re-checking the hold since another call may extend it meanwhile. */
  private async waitForTurn(call: Call, notBefore: number, lastError: ApiError | undefined): Promise<void> {
    for (;;) {
      throwIfAborted(call.signal);
      const hold = this.hold;
      const until = Math.max(notBefore, hold?.until ?? 0);
      const now = this.now();
      const waitMs = until - now;
      if (waitMs <= 0) return;
      if (now + waitMs > call.deadline) {
        // A brand-new call has no error of its own; the one that caused the hold explains why it failed.
        const error = lastError ?? hold?.error;
        if (error !== undefined) throw this.giveUp(call, error, 'budget');
      }
      await raceAbort(this.sleep(waitMs, call.signal), call.signal);
    }
  }

  private extendHold(error: ApiError, counted: number): void {
    const delay = error.retryAfterMs ?? backoffCeiling(counted - 1, this.baseDelayMs, this.maxDelayMs);
    const until = this.now() + delay;
    if (this.hold === null || until > this.hold.until) this.hold = { until, error };
  }

  private async attempt<T>(
    call: Call,
    headers: Headers,
    payload: string | undefined,
    unsafe: boolean,
  ): Promise<AttemptOutcome<T>> {
    const sent = new Headers(headers);
    let tokenUsed: Promise<string> | null = null;
    if (unsafe && !sent.has('X-CSRF-Token')) {
      tokenUsed = this.csrf();
      sent.set('X-CSRF-Token', await raceAbort(tokenUsed, call.signal));
    }

    this.hooks.onRequest?.(this.event(call));
    const started = this.now();
    let response: Response;
    try {
      response = await this.fetchImpl(call.url, {
        method: call.method,
        headers: sent,
        body: payload,
        credentials: 'include',
        signal: call.signal,
      });
    } catch (cause) {
      throwIfAborted(call.signal);
      if (isAbortError(cause)) throw cause;
      return { ok: false, error: ApiError.network(cause) };
    }

    const correlationId = response.headers.get('X-Correlation-ID');
    this.hooks.onResponse?.({
      ...this.event(call),
      status: response.status,
      durationMs: this.now() - started,
      correlationId,
    });

    let text: string;
    try {
      text = await response.text();
    } catch (cause) {
      throwIfAborted(call.signal);
      if (isAbortError(cause)) throw cause;
      // The connection dropped mid-body: as ambiguous as a failed fetch, and as retryable.
      return { ok: false, error: ApiError.network(cause) };
    }

    if (!response.ok) {
      const error = this.toApiError(response, text, correlationId);
      // Drop the token only if no other call has replaced it already, so twenty calls
      // failing together trigger one refetch, not twenty.
      if (error.code === 'CSRF_INVALID' && tokenUsed !== null && this.csrfToken === tokenUsed) this.csrfToken = null;
      return { ok: false, error };
    }
    if (text === '') return { ok: true, value: undefined as T };
    if (!/\bjson\b/i.test(response.headers.get('Content-Type') ?? '')) return { ok: true, value: text as T };
    try {
      // The types describe the server's documented shape; nothing checks it at runtime.
      return { ok: true, value: JSON.parse(text) as T };
    } catch (cause) {
      const error = new ApiError({
        code: 'INVALID_RESPONSE',
        status: response.status,
        message: 'The response claimed to be JSON but could not be parsed',
        retryable: false,
        correlationId,
        cause,
      });
      return { ok: false, error };
    }
  }

  private toApiError(response: Response, text: string, correlationId: string | null): ApiError {
    const headerDelay = parseRetryAfter(response.headers.get('Retry-After'), this.now());
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined; // Not an envelope: a proxy's HTML page or plain text; the status still tells.
    }
    if (isErrorEnvelope(parsed)) {
      const envelope = parsed.error;
      return new ApiError({
        code: envelope.code,
        status: response.status,
        message: envelope.message,
        retryable: envelope.retryable === true,
        // The envelope's milliseconds are exact; the header is the same delay rounded up to seconds.
        retryAfterMs: typeof envelope.retryAfterMs === 'number' ? envelope.retryAfterMs : headerDelay,
        correlationId: typeof envelope.correlationId === 'string' ? envelope.correlationId : correlationId,
        ...(envelope.details === undefined ? {} : { details: envelope.details }),
      });
    }
    return new ApiError({
      code: `HTTP_${response.status}`,
      status: response.status,
      message: `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`,
      retryable: TRANSIENT_STATUSES.has(response.status),
      retryAfterMs: headerDelay,
      correlationId,
    });
  }

  private csrf(): Promise<string> {
    if (this.csrfToken === null) {
      // No caller's signal or budget: the fetch is shared, and one caller giving up must
      // not fail the others waiting on it. Each caller races it against its own signal.
      const token = this.get<CsrfResponse>(CSRF_PATH).then((response) => {
        if (typeof response?.token !== 'string' || response.token === '') {
          throw new ApiError({
            code: 'INVALID_RESPONSE',
            status: 200,
            message: `${CSRF_PATH} returned no token`,
            retryable: false,
          });
        }
        return response.token;
      });
      // A failed fetch must not be cached, or every later unsafe call would fail with it.
      token.catch(() => {
        if (this.csrfToken === token) this.csrfToken = null;
      });
      this.csrfToken = token;
    }
    return this.csrfToken;
  }

  private giveUp(call: Call, error: ApiError, reason: GiveUpReason): ApiError {
    this.hooks.onGiveUp?.({ ...this.event(call), error, reason });
    return error;
  }

  private event(call: Call): RequestEvent {
    return { method: call.method, url: call.url, attempt: call.attempt };
  }

  private buildUrl(path: string, query: QueryParams | undefined): string {
    const url = `${this.baseUrl}${path.startsWith('/') ? path : `/${path}`}`;
    if (query === undefined) return url;
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined && value !== null) search.append(name, String(value));
    }
    const encoded = search.toString();
    if (encoded === '') return url;
    return `${url}${url.includes('?') ? '&' : '?'}${encoded}`;
  }
}

export function createApiClient(options?: ApiClientOptions): ApiClient {
  return new ApiClient(options);
}
