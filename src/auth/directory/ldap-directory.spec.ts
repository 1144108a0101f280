import { describe, expect, it } from 'vitest';
import { type Client, type ClientOptions, InvalidCredentialsError, type SearchOptions } from 'ldapts';
import type { DirectoryConfig } from '../../config/directory-config.js';
import { AD_IN_CHAIN, DirectoryError, LdapDirectory } from './ldap-directory.js';

const CONFIG: DirectoryConfig = {
  url: 'ldaps://dc1.example.com',
  bindDn: 'cn=svc,dc=x',
  bindPassword: 'svc-pw',
  userBase: 'ou=people,dc=x',
  userFilter: '(sAMAccountName={username})',
  groupSearch: 'ad-nested',
  groupBase: 'ou=groups,dc=x',
  rules: [],
  connectTimeoutMs: 1000,
  timeoutMs: 1000,
  caFile: null,
  startTls: false,
  sessionMaxS: 3600,
};

type Call = ['bind', string] | ['search', string, SearchOptions] | ['unbind'];

/** A Client double: one user `uid=alice` with password `right`, member of one group. */
function fake(calls: Call[], options: { fail?: Error } = {}) {
  return (clientOptions: ClientOptions) => {
    expect(clientOptions.url).toBe(CONFIG.url);
    const client = {
      bind: async (dn: string, password: string) => {
        calls.push(['bind', dn]);
        if (options.fail) throw options.fail;
        if (dn === 'cn=svc,dc=x' && password === 'svc-pw') return;
        if (dn === 'uid=alice,ou=people,dc=x' && password === 'right') return;
        throw new InvalidCredentialsError('invalid');
      },
      search: async (base: string, search: SearchOptions) => {
        calls.push(['search', base, search]);
        if (base === CONFIG.userBase) {
          return { searchEntries: search.filter === '(sAMAccountName=alice)' ? [{ dn: 'uid=alice,ou=people,dc=x' }] : [], searchReferences: ['ldap://elsewhere/'] };
        }
        return { searchEntries: [{ dn: 'CN=Admins,OU=Groups,DC=x' }], searchReferences: [] };
      },
      unbind: async () => {
        calls.push(['unbind']);
      },
    };
    return client as unknown as Client;
  };
}

describe(LdapDirectory.name, () => {
  it('binds as the DN the search returned, then reads the groups with AD in-chain matching', async () => {
    const calls: Call[] = [];
    const directory = new LdapDirectory(CONFIG, fake(calls));
    expect(await directory.authenticate('alice', 'right')).toEqual({ kind: 'accepted', dn: 'uid=alice,ou=people,dc=x', groups: ['cn=admins,ou=groups,dc=x'] });
    const groupSearch = calls.find((call) => call[0] === 'search' && call[1] === CONFIG.groupBase) as ['search', string, SearchOptions];
    expect(groupSearch[2].filter).toBe(`(member:${AD_IN_CHAIN}:=uid=alice,ou=people,dc=x)`);
    expect(calls.map((call) => call[0])).toEqual(['bind', 'search', 'bind', 'bind', 'search', 'unbind']);
    expect(calls[2]).toEqual(['bind', 'uid=alice,ou=people,dc=x']);
  });

  it('escapes the username into the filter, never follows referrals, and does not alias-dereference', async () => {
    const calls: Call[] = [];
    const directory = new LdapDirectory(CONFIG, fake(calls));
    expect(await directory.authenticate('*)(cn=*', 'right')).toEqual({ kind: 'not-found' });
    const userSearch = calls.find((call) => call[0] === 'search') as ['search', string, SearchOptions];
    expect(userSearch[2]).toMatchObject({ filter: '(sAMAccountName=\\2a\\29\\28cn=\\2a)', derefAliases: 'never', sizeLimit: 2 });
  });

  it('puts $` $\' $& into the filter as they are: a replacement pattern splices nothing of the template in', async () => {
    for (const username of ['$`', "$'", '$&', 'x$\'y']) {
      const calls: Call[] = [];
      // Not a DirectoryError (a breaker failure): the search ran with the name as typed, and found nobody.
      expect(await new LdapDirectory(CONFIG, fake(calls)).authenticate(username, 'right'), username).toEqual({ kind: 'not-found' });
      const userSearch = calls.find((call) => call[0] === 'search') as ['search', string, SearchOptions];
      expect(userSearch[2].filter, username).toBe(`(sAMAccountName=${username})`);
    }
  });

  it('a name that still makes no valid filter finds nobody, with the same binds and no DirectoryError', async () => {
    const calls: Call[] = [];
    // Unreachable with a configured filter (the start refuses one that cannot parse): defence in depth.
    const directory = new LdapDirectory({ ...CONFIG, userFilter: '(cn={username}))' }, fake(calls));
    expect(await directory.authenticate('alice', 'right')).toEqual({ kind: 'not-found' });
    expect(calls.map((call) => call[0])).toEqual(['bind', 'bind', 'unbind']);
  });

  it('an unknown name and a wrong password cost the same round trips', async () => {
    const unknown: Call[] = [];
    const wrong: Call[] = [];
    expect(await new LdapDirectory(CONFIG, fake(unknown)).authenticate('nobody', 'x')).toEqual({ kind: 'not-found' });
    expect(await new LdapDirectory(CONFIG, fake(wrong)).authenticate('alice', 'wrong')).toEqual({ kind: 'refused', dn: 'uid=alice,ou=people,dc=x' });
    expect(unknown.map((call) => call[0])).toEqual(wrong.map((call) => call[0]));
  });

  it('never sends an empty password in a bind', async () => {
    const calls: Call[] = [];
    expect(await new LdapDirectory(CONFIG, fake(calls)).authenticate('alice', '')).toEqual({ kind: 'refused', dn: 'uid=alice,ou=people,dc=x' });
    expect(calls.filter((call) => call[0] === 'bind').map((call) => call[1])).toEqual(['cn=svc,dc=x']);
  });

  it('turns transport failures into DirectoryError, telling refused connections apart', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:636'), { code: 'ECONNREFUSED' });
    const error = await new LdapDirectory(CONFIG, fake([], { fail: refused })).authenticate('alice', 'right').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DirectoryError);
    expect(error).toMatchObject({ unreachable: true });
    const timedOut = await new LdapDirectory(CONFIG, fake([], { fail: new Error('BindRequest: Operation timed out') })).authenticate('alice', 'right').catch((e: unknown) => e);
    expect(timedOut).toMatchObject({ name: 'DirectoryError', unreachable: false });
  });

  it('gives up a StartTLS handshake that never completes after the connect timeout (ldapts has no timer for it)', async () => {
    const calls: Call[] = [];
    let upgradeOptions: Record<string, unknown> | undefined;
    const config = { ...CONFIG, url: 'ldap://dc1.example.com', startTls: true, connectTimeoutMs: 100 };
    const directory = new LdapDirectory(config, (options) => {
      // Implicit TLS must not be requested for a StartTLS connection.
      expect(options.tlsOptions).toBeUndefined();
      const client = fake(calls)({ ...options, url: CONFIG.url }) as unknown as Record<string, unknown>;
      client.startTLS = (tlsOptions: Record<string, unknown>) => {
        upgradeOptions = tlsOptions;
        return new Promise(() => undefined);
      };
      return client as unknown as Client;
    });
    const started = Date.now();
    await expect(directory.authenticate('alice', 'right')).rejects.toMatchObject({ name: 'DirectoryError', message: 'StartTLS timed out' });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(upgradeOptions).toMatchObject({ host: 'dc1.example.com', servername: 'dc1.example.com', minVersion: 'TLSv1.2' });
    expect(calls.filter((call) => call[0] === 'bind')).toEqual([]);
  });

  it('memberOf mode reads the groups from the user entry, with no group search', async () => {
    const calls: Call[] = [];
    const config = { ...CONFIG, groupSearch: 'memberOf' as const };
    const directory = new LdapDirectory(config, (options) => {
      const client = fake(calls)(options) as unknown as Record<string, unknown>;
      const search = client.search as (base: string, o: SearchOptions) => Promise<{ searchEntries: Record<string, unknown>[] }>;
      client.search = async (base: string, o: SearchOptions) => {
        const result = await search(base, o);
        return { ...result, searchEntries: result.searchEntries.map((e) => ({ ...e, memberOf: ['CN=Ops, OU=Groups,DC=x', 'cn=view,dc=x'] })) };
      };
      return client as unknown as Client;
    });
    expect(await directory.authenticate('alice', 'right')).toEqual({ kind: 'accepted', dn: 'uid=alice,ou=people,dc=x', groups: ['cn=ops,ou=groups,dc=x', 'cn=view,dc=x'] });
    const searches = calls.filter((call) => call[0] === 'search') as ['search', string, SearchOptions][];
    expect(searches).toHaveLength(1);
    expect(searches[0]![2].attributes).toEqual(['memberOf']);
  });
});
