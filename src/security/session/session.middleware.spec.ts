import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import { fakeRequest, fakeResponse } from '../../../test/support/express-fakes.js';
import { DbUnavailableException } from '../../core/errors/index.js';
import { takeCountedHit } from '../rate-limit/counted-hit.js';
import type { AccountState, AccountStatus } from './account-status.js';
import type { RampartSessionStore } from './rampart-session.store.js';
import { sessionLost } from './request-session.js';
import type { AccountCount, AccountHit } from './session-backend.js';
import type { SessionCookie } from './session-cookie.js';
import { SessionMiddleware } from './session.middleware.js';
import type { SessionRevocation } from './session-revocation.js';

const user = { id: 7, username: 'op', role: 'operator' as const };

function middleware(account: () => Promise<AccountState | null>, options: { count?: AccountCount; hit?: AccountHit; known?: AccountState | null } = {}) {
  const revoked: number[] = [];
  let reads = 0;
  const asked: (AccountCount | null)[] = [];
  const store = {
    loadCounting: async (_id: string, count: AccountCount | null) => {
      asked.push(count);
      return { data: { user, credential: 'c1' }, hit: count === null ? null : (options.hit ?? null) };
    },
    touch: async () => undefined,
  } as unknown as RampartSessionStore;
  const cookie = { idFrom: () => 'sid-1', carriedBy: () => true } as unknown as SessionCookie;
  const accounts = {
    current: () => {
      reads += 1;
      return account();
    },
    // What the worker remembers of the row (undefined: nothing fresh, current() decides).
    known: () => options.known,
  } as unknown as AccountStatus;
  const revocation = { revokeUser: async (id: number) => void revoked.push(id) } as unknown as SessionRevocation;
  return { mw: new SessionMiddleware(store, cookie, accounts, revocation, options.count ?? null), revoked, asked, reads: () => reads };
}

async function run(mw: SessionMiddleware, url = '/api/auth/me'): Promise<{ req: Request; error: unknown }> {
  const req = fakeRequest({ url, headers: { cookie: 'sid=x' } });
  const error = await new Promise((resolve) => mw.handle(req, fakeResponse(), resolve));
  return { req, error };
}

describe(SessionMiddleware.name, () => {
  it('identifies the user whose row still matches the session', async () => {
    const { mw, revoked } = middleware(async () => ({ role: 'operator', disabled: false, credential: 'c1' }));
    const { req, error } = await run(mw);
    expect(error).toBeUndefined();
    expect(req.user).toEqual(user);
    expect(revoked).toEqual([]);
  });

  it('takes a fresh remembered row that matches without asking again, and confirms one that does not', async () => {
    const matching = { role: 'operator' as const, disabled: false, credential: 'c1' };
    const fresh = middleware(async () => matching, { known: matching });
    const served = await run(fresh.mw);
    expect(served.req.user).toEqual(user);
    expect(fresh.reads()).toBe(0);
    const changed = middleware(async () => ({ ...matching, disabled: true }), { known: { ...matching, disabled: true } });
    const refused = await run(changed.mw);
    expect(refused.req.user).toBeUndefined();
    expect(changed.reads()).toBeGreaterThan(0);
    expect(changed.revoked).toEqual([7]);
  });

  it('ends every session of a user whose row changed', async () => {
    const { mw, revoked } = middleware(async () => ({ role: 'operator', disabled: true, credential: 'c1' }));
    const { req, error } = await run(mw);
    expect(error).toBeUndefined();
    expect(req.user).toBeUndefined();
    expect(sessionLost(req)).toBe(true);
    expect(revoked).toEqual([7]);
  });

  it('trusts the session when the database cannot be asked and no row is known (a worker started during an outage)', async () => {
    const { mw, revoked } = middleware(async () => {
      throw new DbUnavailableException(3000);
    });
    const { req, error } = await run(mw);
    expect(error).toBeUndefined();
    expect(req.user).toEqual(user);
    expect(revoked).toEqual([]);
  });

  it('passes on any other failure', async () => {
    const { mw } = middleware(async () => {
      throw new Error('bug');
    });
    expect((await run(mw)).error).toBeInstanceOf(Error);
  });

  it('counts the account in the session read on API paths only, and hands the hit to the rate-limit guard', async () => {
    const count = { keyPrefix: 'p:rl:account:', windowMs: 60_000, limit: 100, blockMs: 60_000 };
    const ok = async () => ({ role: 'operator' as const, disabled: false, credential: 'c1' });
    const { mw, asked } = middleware(ok, { count, hit: { userId: 7, hits: 3, remainingMs: 59_500 } });
    const { req } = await run(mw, '/API/lots/1');
    expect(asked).toEqual([count]);
    expect(takeCountedHit(req, 7)).toEqual({ totalHits: 3, timeToExpire: 60, isBlocked: false, timeToBlockExpire: 0 });
    // Taken once; the guard counts by itself when there is none.
    expect(takeCountedHit(req, 7)).toBeNull();
    const login = await run(mw, '/login');
    expect(asked).toEqual([count, null]);
    expect(takeCountedHit(login.req, 7)).toBeNull();
  });
});
