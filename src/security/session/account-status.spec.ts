import { describe, expect, it } from 'vitest';
import type { DatabaseService } from '../../database/database.service.js';
import { ACCOUNT_FRESH_MS, AccountStatus, credentialStamp, sessionMismatch } from './account-status.js';

type Row = { role: 'viewer' | 'operator' | 'admin'; disabled: boolean; password_hash: string };

/** A database with one users table the test edits, counting reads; `down` makes every read fail. */
function fakeDb() {
  const rows = new Map<number, Row>([[1, { role: 'admin', disabled: false, password_hash: 'h1' }]]);
  const state = { reads: 0, down: false, rows };
  const db = {
    run: async <T>(work: (sql: { query: (text: string, params: unknown[]) => Promise<unknown[]> }) => Promise<T>) => {
      state.reads += 1;
      if (state.down) throw new Error('ECONNREFUSED');
      return work({ query: async (_text, params) => (rows.has(params[0] as number) ? [rows.get(params[0] as number)] : []) });
    },
  } as unknown as DatabaseService;
  return { db, state };
}

describe(AccountStatus.name, () => {
  it('reads a user at most once per freshness window, and again when asked for a fresh answer', async () => {
    let now = 1_000_000;
    const { db, state } = fakeDb();
    const accounts = new AccountStatus(db, () => now);
    expect(await accounts.current(1)).toEqual({ role: 'admin', disabled: false, credential: credentialStamp('h1') });
    await Promise.all([accounts.current(1), accounts.current(1)]);
    expect(state.reads).toBe(1);
    state.rows.get(1)!.role = 'viewer';
    expect((await accounts.current(1))!.role).toBe('admin');
    expect((await accounts.current(1, 0))!.role).toBe('viewer');
    now += ACCOUNT_FRESH_MS;
    state.rows.get(1)!.disabled = true;
    expect((await accounts.current(1))!.disabled).toBe(true);
    state.rows.delete(1);
    now += ACCOUNT_FRESH_MS;
    expect(await accounts.current(1)).toBeNull();
  });

  it('shares one read between concurrent misses', async () => {
    const { db, state } = fakeDb();
    const accounts = new AccountStatus(db);
    await Promise.all(Array.from({ length: 20 }, () => accounts.current(1)));
    expect(state.reads).toBe(1);
  });

  it('serves the last answer for as long as the database is out of reach, without a read per request', async () => {
    let now = 1_000_000;
    const { db, state } = fakeDb();
    const accounts = new AccountStatus(db, () => now);
    await accounts.current(1);
    state.down = true;
    now += ACCOUNT_FRESH_MS;
    expect((await accounts.current(1))!.role).toBe('admin');
    const reads = state.reads;
    for (let i = 0; i < 10; i += 1) await accounts.current(1);
    expect(state.reads).toBe(reads);
    now += 10 * 60_000;
    expect((await accounts.current(1))!.role).toBe('admin');
    state.down = false;
    state.rows.get(1)!.role = 'viewer';
    now += ACCOUNT_FRESH_MS;
    expect((await accounts.current(1))!.role).toBe('viewer');
    state.down = true;
    // Never known: nothing to fall back on.
    await expect(accounts.current(2)).rejects.toThrow('ECONNREFUSED');
  });
});

describe(sessionMismatch.name, () => {
  const user = { id: 1, username: 'a', role: 'admin' as const };
  const state = { role: 'admin' as const, disabled: false, credential: 'c1' };
  it('names what changed since login, or null', () => {
    expect(sessionMismatch({ user, credential: 'c1' }, state)).toBeNull();
    expect(sessionMismatch({ user, credential: 'c1' }, null)).toBe('deleted');
    expect(sessionMismatch({ user, credential: 'c1' }, { ...state, disabled: true })).toBe('disabled');
    expect(sessionMismatch({ user, credential: 'c1' }, { ...state, role: 'viewer' })).toBe('role_changed');
    expect(sessionMismatch({ user, credential: 'c1' }, { ...state, credential: 'c2' })).toBe('password_changed');
    // A session of an earlier release, without a stamp, is not checked for it.
    expect(sessionMismatch({ user }, { ...state, credential: 'c2' })).toBeNull();
  });
});
