import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ErrorCode } from '../../../src/core/errors/error-code.js';
import { loginWith, type BrowserSession } from '../../support/session.js';

/** One POSTed note, as the client saw it. Its text is unique, so the database can be asked. */
export interface WriteRecord {
  key: string;
  text: string;
  lotId: number;
  /** Final HTTP status (0: no answer: connection refused, reset or timed out). */
  status: number;
  code: string | null;
  message: string | null;
  /** A 2xx answer came back for one of its attempts. */
  acknowledged: boolean;
  attempts: number;
}

export interface Sample {
  at: number;
  ok: boolean;
  /** How long the request took, answer or error (ms). */
  ms?: number;
}

export interface LoadResult {
  requests: number;
  statuses: Record<string, number>;
  codes: Record<string, number>;
  /** Answers that break the contract: a 5xx without a contract code, any 500, a non-2xx without the envelope. */
  violations: string[];
  /** Requests that got no HTTP answer (refused, reset, timed out), by error name. */
  fetchErrors: Record<string, number>;
  /** User operations (a read, or a write with its retries) whose final outcome was not a 2xx. */
  failedOperations: number;
  writes: WriteRecord[];
  /** Completion time and outcome of every request, in completion order. */
  samples: Sample[];
}

export interface UserCredentials {
  username: string;
  password: string;
}

export interface UserLoadOptions {
  lotIds?: number[];
  /** Pause between one user's iterations. */
  pauseMs?: number;
  /** Only POST notes. */
  writeOnly?: boolean;
  /** Retry a write that got a retryable answer (or none) with the same Idempotency-Key. */
  retryWrites?: boolean;
  /**
   * Retry a read once when it got no answer at all (a keep-alive connection closed under it), as
   * libs/api-client does for a network error on GET (RFC 9112 9.3.1 allows it for idempotent methods).
   */
  retryReads?: boolean;
  /** Per-request client timeout. */
  requestTimeoutMs?: number;
}

const CONTRACT_CODES = new Set<string>(Object.values(ErrorCode));

interface Answer {
  status: number;
  code: string | null;
  message: string | null;
  retryable: boolean;
  retryAfterMs: number | null;
}

/**
 * Logged-in users in a loop, as the dashboard uses Rampart: list lots, read one, POST a unique
 * note with an Idempotency-Key. Every answer is checked against the contract's envelope, and
 * every write is remembered so the database can be asked afterwards what became of it.
 */
export class UserLoad {
  private stopping = false;
  private readonly result: LoadResult = { requests: 0, statuses: {}, codes: {}, violations: [], fetchErrors: {}, failedOperations: 0, writes: [], samples: [] };
  private readonly runId = randomBytes(4).toString('hex');
  private loops: Promise<void>[] = [];

  private constructor(
    private readonly baseUrl: string,
    private readonly options: Required<UserLoadOptions>,
  ) {}

  /** Logs every user in (before any fault), then starts their loops. */
  static async start(baseUrl: string, users: UserCredentials[], options: UserLoadOptions = {}): Promise<UserLoad> {
    const load = new UserLoad(baseUrl, {
      lotIds: options.lotIds ?? [1, 2, 3, 4, 5],
      pauseMs: options.pauseMs ?? 20,
      writeOnly: options.writeOnly ?? false,
      retryWrites: options.retryWrites ?? false,
      retryReads: options.retryReads ?? false,
      requestTimeoutMs: options.requestTimeoutMs ?? 15_000,
    });
    const sessions = await loginAll(baseUrl, users);
    load.loops = sessions.map((session, index) => load.loop(session, users[index]!, index));
    return load;
  }

  /** Samples so far (completion order), for a scenario that waits until service is back. */
  get samples(): readonly Sample[] {
    return this.result.samples;
  }

  /** The prefix of every note text this run writes. */
  get notePrefix(): string {
    return `chaos-${this.runId}`;
  }

  async stop(): Promise<LoadResult> {
    this.stopping = true;
    await Promise.all(this.loops);
    this.result.samples.sort((a, b) => a.at - b.at);
    return this.result;
  }

  private async loop(first: BrowserSession, user: UserCredentials, index: number): Promise<void> {
    let session = first;
    let seq = 0;
    while (!this.stopping) {
      const lotId = this.options.lotIds[seq % this.options.lotIds.length]!;
      if (!this.options.writeOnly) {
        await this.read(session, '/api/lots?limit=20');
        await this.read(session, `/api/lots/${lotId}`);
      }
      const key = `${this.runId}.${index}.${seq}`;
      const write = await this.write(session, lotId, key, `${this.notePrefix} u${index} n${seq}`);
      // A session the server no longer knows (Redis restarted empty) signs in again, as a dashboard would.
      if (write.code === ErrorCode.UNAUTHENTICATED && !this.stopping) {
        session = await loginWith(this.baseUrl, user.username, user.password).catch(() => session);
      }
      seq += 1;
      // A server that refuses connections answers in microseconds; do not spin on it.
      await sleep(write.status === 0 ? Math.max(this.options.pauseMs, 100) : this.options.pauseMs);
    }
  }

  private async read(session: BrowserSession, path: string): Promise<void> {
    let answer = await this.call(session, 'GET', path);
    if (answer.status === 0 && this.options.retryReads && !this.stopping) answer = await this.call(session, 'GET', path);
    if (answer.status < 200 || answer.status >= 300) this.result.failedOperations += 1;
  }

  private async write(session: BrowserSession, lotId: number, key: string, text: string): Promise<WriteRecord> {
    const record: WriteRecord = { key, text, lotId, status: 0, code: null, message: null, acknowledged: false, attempts: 0 };
    this.result.writes.push(record);
    for (;;) {
      record.attempts += 1;
      const answer = await this.call(session, 'POST', `/api/lots/${lotId}/notes`, { text }, { 'idempotency-key': key });
      record.status = answer.status;
      record.code = answer.code;
      record.message = answer.message;
      if (answer.status >= 200 && answer.status < 300) record.acknowledged = true;
      const retry = this.options.retryWrites && !record.acknowledged && (answer.status === 0 || answer.retryable) && !this.stopping;
      if (!retry) {
        if (!record.acknowledged) this.result.failedOperations += 1;
        return record;
      }
      await sleep(Math.min(answer.retryAfterMs ?? 250, 1000));
    }
  }

  private async call(session: BrowserSession, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    this.result.requests += 1;
    const started = performance.now();
    let answer: Answer;
    try {
      const response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: method === 'GET' ? { cookie: session.cookie } : session.headers(headers),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.requestTimeoutMs),
      });
      const text = await response.text();
      answer = { status: response.status, code: null, message: null, retryable: false, retryAfterMs: null };
      if (response.status >= 300) answer = { ...answer, ...this.envelope(method, path, response, text) };
    } catch (error) {
      const name = error instanceof Error ? (error.cause instanceof Error ? (error.cause as NodeJS.ErrnoException).code ?? error.cause.name : error.name) : 'unknown';
      this.result.fetchErrors[name] = (this.result.fetchErrors[name] ?? 0) + 1;
      answer = { status: 0, code: null, message: null, retryable: true, retryAfterMs: null };
    }
    this.result.statuses[answer.status] = (this.result.statuses[answer.status] ?? 0) + 1;
    if (answer.code) this.result.codes[answer.code] = (this.result.codes[answer.code] ?? 0) + 1;
    this.result.samples.push({ at: Date.now(), ok: answer.status >= 200 && answer.status < 300, ms: Math.round(performance.now() - started) });
    return answer;
  }

  private envelope(method: string, path: string, response: Response, text: string): Omit<Answer, 'status'> {
    const where = `${method} ${path} -> ${response.status}`;
    let error: { code?: unknown; message?: unknown; retryable?: unknown; retryAfterMs?: unknown } | undefined;
    try {
      error = (JSON.parse(text) as { error?: typeof error }).error;
    } catch {
      error = undefined;
    }
    const code = typeof error?.code === 'string' ? error.code : null;
    if (code === null || !CONTRACT_CODES.has(code)) this.result.violations.push(`${where} without a contract code: ${text.slice(0, 200)}`);
    if (response.status === 500) this.result.violations.push(`${where}: ${text.slice(0, 200)}`);
    const retryAfterMs = typeof error?.retryAfterMs === 'number' ? error.retryAfterMs : null;
    if (retryAfterMs !== null && response.headers.get('retry-after') === null) this.result.violations.push(`${where} ${code}: retryAfterMs without Retry-After`);
    return { code, message: typeof error?.message === 'string' ? error.message : null, retryable: error?.retryable === true, retryAfterMs };
  }
}

/** Logs a crowd in a few at a time: 50 password checks at once would exhaust the pool before any fault. */
async function loginAll(baseUrl: string, users: UserCredentials[], concurrency = 6): Promise<BrowserSession[]> {
  const sessions: BrowserSession[] = new Array<BrowserSession>(users.length);
  let next = 0;
  const worker = async () => {
    while (next < users.length) {
      const index = next++;
      const user = users[index]!;
      for (let attempt = 1; ; attempt += 1) {
        try {
          sessions[index] = await loginWith(baseUrl, user.username, user.password);
          break;
        } catch (error) {
          if (attempt >= 5) throw error;
          await sleep(250 * attempt);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, users.length) }, worker));
  return sessions;
}

export interface WriteVerdict {
  acknowledged: number;
  unacknowledged: number;
  /** Keys of acknowledged writes that are not in the database. */
  missing: string[];
  /** Keys of writes stored more than once. */
  duplicates: string[];
  /** Writes that got no 2xx answer yet are stored (once). */
  unacknowledgedStored: number;
  /** Those stored ones, with the answer the client had. */
  unacknowledgedStoredAnswers: string[];
}

/** Asks PostgreSQL directly what became of every write. */
export async function verifyWrites(dbUrl: string, writes: WriteRecord[]): Promise<WriteVerdict> {
  const client = new pg.Client({ connectionString: dbUrl, application_name: 'test:verify' });
  await client.connect();
  const stored = new Map<string, number>();
  try {
    const texts = writes.map((w) => w.text);
    const { rows } = await client.query<{ text: string; n: number }>(
      'SELECT text, count(*)::int AS n FROM lot_notes WHERE text = ANY($1::text[]) GROUP BY text',
      [texts],
    );
    for (const row of rows) stored.set(row.text, row.n);
  } finally {
    await client.end();
  }
  const verdict: WriteVerdict = { acknowledged: 0, unacknowledged: 0, missing: [], duplicates: [], unacknowledgedStored: 0, unacknowledgedStoredAnswers: [] };
  for (const write of writes) {
    const count = stored.get(write.text) ?? 0;
    if (count > 1) verdict.duplicates.push(write.key);
    if (write.acknowledged) {
      verdict.acknowledged += 1;
      if (count === 0) verdict.missing.push(write.key);
    } else {
      verdict.unacknowledged += 1;
      if (count > 0) {
        verdict.unacknowledgedStored += 1;
        verdict.unacknowledgedStoredAnswers.push(`${write.key}: ${write.status} ${write.code ?? ''} ${write.message ?? ''}`.trim());
      }
    }
  }
  return verdict;
}

/**
 * Milliseconds from `healedAt` to the first of `streak` consecutive successful requests
 * completed after it; null when service never came back.
 */
export function recoveryMs(samples: Sample[], healedAt: number, streak = 5): number | null {
  const after = samples.filter((s) => s.at >= healedAt).sort((a, b) => a.at - b.at);
  for (let i = 0; i + streak <= after.length; i += 1) {
    if (after.slice(i, i + streak).every((s) => s.ok)) return after[i]!.at - healedAt;
  }
  return null;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `everyMs` until it returns true; the elapsed milliseconds, or null at the deadline. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 100): Promise<number | null> {
  const started = Date.now();
  while (Date.now() - started <= timeoutMs) {
    if (await Promise.resolve().then(check).catch(() => false)) return Date.now() - started;
    await sleep(everyMs);
  }
  return null;
}
