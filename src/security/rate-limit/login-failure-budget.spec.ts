import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { SessionStoreUnavailableException } from '../session/session-store-unavailable.exception.js';
import { LoginFailureBudget, normaliseUsername } from './login-failure-budget.js';
import { MemoryRateLimitStore } from './memory-rate-limit.store.js';
import { RateLimitMetrics } from './rate-limit.metrics.js';
import { ratePolicies } from './rate-limit.policies.js';
import { RateLimitStore } from './rate-limit.store.js';
import { RateLimitedException } from './rate-limited.exception.js';
import { RateLimiter } from './rate-limiter.service.js';

const response = () => new ServerResponse(new IncomingMessage(new Socket()));
const silent = pino({ level: 'silent' });
const policy = ratePolicies({
  loginPerMin: 10,
  resetPerHour: 5,
  accountPerMin: 100,
  anonymousPerMin: 60,
  loginFailures: { perAccount: 3, directoryPerAccount: 2, windowS: 60, maxDelayS: 300 },
})['login-account'];

function setup(store?: RateLimitStore) {
  let now = 1_000_000;
  const memory = new MemoryRateLimitStore({ now: () => now });
  const metrics = new RateLimitMetrics();
  const limiter = new RateLimiter(store ?? memory, metrics, silent);
  const budget = new LoginFailureBudget(store ?? memory, limiter, metrics, policy, 'a-test-secret-of-enough-length-123', silent);
  const fail = async (name: string) => {
    const attempt = await budget.admit(name, response());
    attempt.failed();
    await attempt.settle();
  };
  /** The Retry-After (seconds) of a refused attempt, or null when it was admitted. */
  const refusedFor = async (name: string): Promise<number | null> => {
    const error: unknown = await budget.admit(name, response()).then(
      async (attempt) => {
        await attempt.settle();
        return null;
      },
      (e: unknown) => e,
    );
    if (error === null) return null;
    expect(error).toBeInstanceOf(RateLimitedException);
    return (error as RateLimitedException).retryAfterMs! / 1000;
  };
  return { budget, metrics, fail, refusedFor, advance: (ms: number) => (now += ms) };
}

describe(LoginFailureBudget.name, () => {
  it('refuses after the failures, before any password check, and doubles the delay with each exhaustion up to the cap', async () => {
    const { fail, refusedFor, advance, metrics } = setup();
    const delays: number[] = [];
    for (let round = 0; round < 5; round += 1) {
      for (let i = 0; i < 3; i += 1) await fail('alice');
      const delay = await refusedFor('alice');
      expect(delay).not.toBeNull();
      delays.push(delay!);
      // Refused attempts do not stretch the block.
      advance(delay! * 1000 - 1000);
      expect(await refusedFor('alice')).toBe(1);
      advance(1000);
    }
    expect(delays).toEqual([60, 120, 240, 300, 300]);
    expect(metrics.snapshot().rejections.get('login-account')).toBe(10);
  });

  it('counts failures only: an attempt that did not fail is given back', async () => {
    const { budget, fail, refusedFor } = setup();
    await fail('bob');
    await fail('bob');
    for (let i = 0; i < 10; i += 1) await (await budget.admit('bob', response())).settle();
    await fail('bob');
    expect(await refusedFor('bob')).toBe(60);
  });

  it('writes the IETF fields of the policy', async () => {
    const { budget } = setup();
    const res = response();
    await budget.admit('carol', res);
    expect(res.getHeader('RateLimit-Policy')).toBe('"login-account";q=3;w=60');
    expect(res.getHeader('RateLimit')).toBe('"login-account";r=2;t=60');
  });

  it('keys by an HMAC of the normalised name: variants share a budget, the raw name is never in the key', async () => {
    const { budget, fail, refusedFor } = setup();
    await fail('Dave');
    await fail(' dave ');
    await fail('ＤＡＶＥ');
    expect(await refusedFor('dave')).toBe(60);
    expect(await refusedFor('eve')).toBeNull();
    expect(normaliseUsername(' ＤａVe ')).toBe('dave');
    expect(budget.subject('dave')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(budget.subject('dave')).not.toContain('dave');
  });

  it('fails closed when the store is down or refuses writes: an error before any password check, never an uncounted attempt', async () => {
    class BrokenStore extends MemoryRateLimitStore {
      override increment(): never {
        throw new Error('OOM command not allowed');
      }
    }
    const { budget, metrics } = setup(new BrokenStore());
    for (const name of ['frank', 'grace']) await expect(budget.admit(name, null)).rejects.toBeInstanceOf(SessionStoreUnavailableException);
    expect(metrics.snapshot().storeFailures).toBe(2);
  });

  it('writes no RateLimit fields when given no response, but still refuses with the wait', async () => {
    const { budget } = setup();
    for (let i = 0; i < 3; i += 1) (await budget.admit('heidi', null)).failed();
    await expect(budget.admit('heidi', null)).rejects.toMatchObject({ retryAfterMs: 60_000 });
  });
});
