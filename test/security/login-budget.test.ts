import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { rawRequest, type RawResponse } from '../support/raw-http.js';
import { type OwnRedis, SHARED_REDIS_URL, startOwnRedis, uniquePrefix } from '../support/redis.js';
import { anonymousSession, type BrowserSession, createUser, loginWith, sessionCookieOf, type TestUser } from '../support/session.js';
import { limitState } from './rate-limit-support.js';

const WINDOW_S = 10;
const FAILURES = 20;

interface Answer {
  status: number;
  code: string | undefined;
  message: string | undefined;
  retryAfter: number | null;
  policy: string;
  account: ReturnType<typeof limitState>;
  ip: ReturnType<typeof limitState>;
  cookie: boolean;
  ms: number;
}

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;

/**
 * Issue 13 row "250 wrong passwords against one account from 25 IPs": the per-username budget
 * for failed logins (LoginFailureBudget) on top of the per-IP one. Two instances share one
 * Redis, as two replicas. The test client is loopback, a trusted proxy, so X-Forwarded-For
 * names the attacker's address of each request.
 */
describe('per-account login failure budget', () => {
  let a: TestApp;
  let b: TestApp;
  let redis: Redis;
  const prefix = uniquePrefix();
  let pre: BrowserSession;

  beforeAll(async () => {
    const env = {
      REDIS_URL: SHARED_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      SESSION_SECRET: randomBytes(32).toString('base64url'),
      RATE_LIMIT_LOGIN_PER_MIN: '10',
      RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT: String(FAILURES),
      RATE_LIMIT_LOGIN_FAILURES_WINDOW_S: String(WINDOW_S),
      RATE_LIMIT_LOGIN_FAILURES_MAX_DELAY_S: String(4 * WINDOW_S),
      // Not the password-hash bulkhead's test (test/overload has it): on a busy machine 25
      // concurrent argon2 checks outlast its default queue wait and would answer OVERLOADED.
      PASSWORD_HASH_QUEUE: '256',
      PASSWORD_HASH_QUEUE_TIMEOUT_MS: '60000',
    };
    a = await startTestApp(env);
    b = await startTestApp(env, { db: a.db });
    redis = new Redis(SHARED_REDIS_URL);
    // One pre-login session for every attempt, as an attacker would: a failed login keeps it.
    pre = await anonymousSession(a.url);
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  async function attempt(ip: string, username: string, password = 'not-the-password', app: TestApp = a): Promise<Answer> {
    const headers: Array<[string, string]> = [...Object.entries(pre.headers({ origin: app.url })), ['x-forwarded-for', ip]];
    const started = performance.now();
    const response: RawResponse = await rawRequest(app.url, { method: 'POST', path: '/api/auth/login', headers, body: JSON.stringify({ username, password }) });
    const ms = performance.now() - started;
    const error = (JSON.parse(response.body) as { error?: { code: string; message: string } }).error;
    const retryAfter = response.headers['retry-after'];
    return {
      status: response.status,
      code: error?.code,
      message: error?.message,
      retryAfter: retryAfter === undefined ? null : Number(retryAfter),
      policy: String(response.headers['ratelimit-policy'] ?? ''),
      account: limitState(response, 'login-account'),
      ip: limitState(response, 'login'),
      cookie: response.headers['set-cookie'] !== undefined,
      ms,
    };
  }

  const ips = (block: number, count = 25) => Array.from({ length: count }, (_, i) => `198.18.${block}.${i + 1}`);

  function expectAccountRefusal(answer: Answer): void {
    expect(answer).toMatchObject({ status: 429, code: 'RATE_LIMITED', cookie: false });
    expect(answer.retryAfter).toBeGreaterThanOrEqual(1);
    expect(answer.policy).toContain(`"login-account";q=${FAILURES};w=${WINDOW_S}`);
    expect(answer.account).toEqual({ remaining: 0, resetS: answer.retryAfter });
  }

  let victim: TestUser;
  let firstDelayS = 0;

  it('answers 429 with Retry-After and the IETF fields once an account has taken its failures, from 25 IPs across two replicas', async () => {
    victim = await createUser(a, 'operator');
    const answers: Answer[] = [];
    for (let round = 0; round < 10; round += 1) {
      answers.push(...(await Promise.all(ips(1).map((ip, i) => attempt(ip, victim.username, 'not-the-password', i % 2 === 0 ? a : b)))));
    }
    const refused = answers.filter((answer) => answer.status === 429);
    // Charged before the password check, so concurrency cannot overrun the budget.
    expect(answers.filter((answer) => answer.status === 401)).toHaveLength(FAILURES);
    expect(refused).toHaveLength(250 - FAILURES);
    for (const answer of refused) {
      expectAccountRefusal(answer);
      expect(answer.retryAfter).toBeLessThanOrEqual(WINDOW_S);
      // The per-IP budget still counted (each IP used 10 of its 10), but did not refuse.
      expect(answer.ip?.remaining).toBeGreaterThanOrEqual(0);
    }
    firstDelayS = Math.max(...refused.map((answer) => answer.retryAfter!));

    // The right password does not get past the spent budget either (no password oracle); no session.
    const right = await attempt('198.18.9.1', victim.username, victim.password);
    expectAccountRefusal(right);
    // The key is a hash of the name, not the name.
    const keys = await redis.keys(`${prefix}rl:login-account*`);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.some((key) => key.includes(victim.username))).toBe(false);
    // One warn line per exhaustion (not per refusal), naming the key an operator would clear.
    const exhausted = [...a.logs.entries(), ...b.logs.entries()].filter((entry) => entry.event === 'login-budget-exhausted');
    expect(exhausted).toHaveLength(1);
    expect(keys).toContain(`${prefix}rl:login-account:${String(exhausted[0]!.subject)}`);
    expect(JSON.stringify(exhausted[0])).not.toContain(victim.username);
  });

  it('answers an unknown username exactly like a known one, in the same timing class', async () => {
    const known = await createUser(a, 'viewer');
    const unknown = `nobody_${randomBytes(4).toString('hex')}`;
    const run = async (username: string, block: number) => {
      const answers: Answer[] = [];
      for (const ip of ips(block, FAILURES + 3)) answers.push(await attempt(ip, username));
      return answers;
    };
    const knownAnswers = await run(known.username, 2);
    const unknownAnswers = await run(unknown, 3);
    const shape = (answers: Answer[]) => answers.map(({ status, code, message, account }) => ({ status, code, message, remaining: account?.remaining }));
    expect(shape(unknownAnswers)).toEqual(shape(knownAnswers));
    expect(knownAnswers.map((answer) => answer.status)).toEqual([...Array<number>(FAILURES).fill(401), 429, 429, 429]);
    for (const answer of [...knownAnswers, ...unknownAnswers].slice(FAILURES)) if (answer.status === 429) expectAccountRefusal(answer);

    const slow = (answers: Answer[]) => median(answers.slice(0, FAILURES).map((answer) => answer.ms));
    const fast = (answers: Answer[]) => median(answers.slice(FAILURES).map((answer) => answer.ms));
    // Failures: one argon2 verify each, known or not (generous bounds for a shared CI machine).
    expect(slow(unknownAnswers)).toBeGreaterThan(slow(knownAnswers) * 0.5);
    expect(slow(unknownAnswers)).toBeLessThan(slow(knownAnswers) * 2);
    // Refusals: no password check at all, for either.
    expect(fast(knownAnswers)).toBeLessThan(slow(knownAnswers) * 0.5);
    expect(fast(unknownAnswers)).toBeLessThan(slow(knownAnswers) * 0.5);
  });

  it('keeps the per-IP budget: the 11th login from one IP is refused whatever the username', async () => {
    for (let i = 0; i < 10; i += 1) expect((await attempt('198.18.4.1', `spray_${i}`)).status).toBe(401);
    const refused = await attempt('198.18.4.1', 'spray_10');
    expect(refused.status).toBe(429);
    expect(refused.ip).toEqual({ remaining: 0, resetS: refused.retryAfter });
    // Refused by the IP before the account was charged.
    expect(refused.account).toBeNull();
  });

  it('counts an IPv6 client per /64', async () => {
    for (let i = 1; i <= 10; i += 1) expect((await attempt(`2001:db8:aa:bb::${i.toString(16)}`, `v6_${i}`)).status).toBe(401);
    expect((await attempt('2001:db8:aa:bb:ffff:ffff:ffff:fffe', 'v6_11')).status).toBe(429);
    expect((await attempt('2001:db8:aa:bc::1', 'v6_12')).status).toBe(401);
  });

  it('locks no one out for good: the owner gets in once the delay has passed, success costs nothing, and the next exhaustion doubles the delay', async () => {
    expect(firstDelayS).toBeGreaterThan(0);
    const deadline = Date.now() + (WINDOW_S + 5) * 1000;
    let answer: Answer;
    let poll = 0;
    for (;;) {
      poll += 1;
      answer = await attempt(`198.18.5.${poll}`, victim.username, victim.password);
      if (answer.status !== 429 || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(answer.status).toBe(200);
    expect(answer.cookie).toBe(true);
    // That login ended the shared pre-login session (a new id at login); the attacker gets another.
    pre = await anonymousSession(a.url);

    // The successful login was given back: all 20 failures are still available, then 429.
    const statuses: number[] = [];
    for (const ip of ips(6, FAILURES)) statuses.push((await attempt(ip, victim.username)).status);
    expect(statuses).toEqual(Array<number>(FAILURES).fill(401));
    const refused = await attempt('198.18.6.200', victim.username);
    expectAccountRefusal(refused);
    expect(refused.retryAfter).toBeGreaterThan(firstDelayS);
    expect(refused.retryAfter).toBeLessThanOrEqual(2 * WINDOW_S);
  }, 40_000);
});

describe('per-account login failure budget without Redis (single-instance mode)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT: '3' });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('keeps the counters in memory with the same answers', async () => {
    const pre = await anonymousSession(app.url);
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 5; i += 1) {
      last = await pre.post('/api/auth/login', { username: 'Admin ', password: 'not-the-password' }, { headers: { 'x-forwarded-for': `198.18.7.${i + 1}` } });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    expect(last!.headers.get('retry-after')).toBe('900');
    expect(limitState(last!, 'login-account')).toEqual({ remaining: 0, resetS: 900 });
  });

  it('shares the budget with the HTML form, which shows the delay on the page', async () => {
    const page = await fetch(`${app.url}/login`);
    const cookie = sessionCookieOf(page)!;
    const token = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const response = await fetch(`${app.url}/login`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: app.url, 'x-forwarded-for': '198.18.7.50' },
      body: new URLSearchParams({ username: 'admin', password: 'not-the-password', _csrf: token }).toString(),
      redirect: 'manual',
    });
    expect(response.status).toBe(429);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(800);
    expect(limitState(response, 'login-account')?.remaining).toBe(0);
    expect(await response.text()).toContain('Too many failed sign-ins for this username. Try again in 15 minutes.');
  });
});

describe('per-account login failure budget when Redis refuses writes (a Redis of its own)', () => {
  let redis: OwnRedis;
  let app: TestApp;
  let user: TestUser;

  beforeAll(async () => {
    redis = await startOwnRedis();
    app = await startTestApp({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: uniquePrefix() });
    user = await createUser(app, 'operator');
  });
  afterAll(async () => {
    await app?.stop();
    await redis?.stop();
  });

  it('answers 503 SESSION_STORE_UNAVAILABLE to right and wrong passwords alike, at sign-in and at password change (no oracle, no uncounted guess)', async () => {
    // Sessions made while Redis still takes writes; then it refuses them (OOM, as a full Redis
    // with noeviction does) while still serving the session reads the CSRF check needs.
    const pre = await Promise.all([anonymousSession(app.url), anonymousSession(app.url)]);
    const signedIn = await loginWith(app.url, user.username, user.password);
    const cli = (...args: string[]) => execFileSync('redis-cli', ['-p', String(redis.port), ...args], { encoding: 'utf8', timeout: 5000 });
    expect(cli('config', 'set', 'maxmemory-policy', 'noeviction').trim()).toBe('OK');
    expect(cli('config', 'set', 'maxmemory', '1').trim()).toBe('OK');
    try {
      const codeOf = async (response: Response) => ((await response.json()) as { error?: { code?: string } }).error?.code;
      const answers: [number, string | undefined][] = [];
      for (const [session, password] of [
        [pre[0]!, 'wrong-password-1'],
        [pre[1]!, user.password],
      ] as const) {
        const response = await session.post('/api/auth/login', { username: user.username, password });
        answers.push([response.status, await codeOf(response)]);
      }
      for (const currentPassword of ['wrong-password-2', user.password]) {
        const response = await signedIn.post('/api/auth/password', { currentPassword, newPassword: `new-${randomBytes(12).toString('base64url')}` });
        answers.push([response.status, await codeOf(response)]);
      }
      expect(answers).toEqual(Array(4).fill([503, 'SESSION_STORE_UNAVAILABLE']));
    } finally {
      cli('config', 'set', 'maxmemory', '0');
    }
    // Nothing was changed meanwhile: the old password still signs in.
    await loginWith(app.url, user.username, user.password);
  });
});
