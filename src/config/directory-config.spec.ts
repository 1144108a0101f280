import { describe, expect, it } from 'vitest';
import { normaliseDn, parseRoleRules } from './directory-config.js';
import { PROD_BASE as PROD, problemsOf } from '../../test/support/config.js';
import { loadConfig } from './env.js';

const LDAP = {
  AUTH_PROVIDERS: 'ldap,local',
  LDAP_URL: 'ldaps://dc1.example.com',
  LDAP_BIND_DN: 'cn=rampart,ou=services,dc=example,dc=com',
  LDAP_BIND_PASSWORD: 'service-password',
  LDAP_USER_BASE: 'ou=people,dc=example,dc=com',
  LDAP_ROLE_RULES: 'admin=cn=MES-Admins, ou=groups,dc=example,dc=com;viewer=*',
};

describe('directory configuration', () => {
  it('is local-only by default, with no directory', () => {
    expect(loadConfig({}).config.auth).toEqual({ providers: ['local'], directory: null });
  });

  it('reads the providers in order and the directory settings, with normalised rule DNs', () => {
    const { auth } = loadConfig({ ...PROD, ...LDAP }).config;
    expect(auth.providers).toEqual(['ldap', 'local']);
    expect(auth.directory).toMatchObject({
      url: 'ldaps://dc1.example.com',
      userFilter: '(uid={username})',
      groupSearch: 'member',
      groupBase: 'ou=people,dc=example,dc=com',
      connectTimeoutMs: 3000,
      timeoutMs: 5000,
      startTls: false,
      rules: [
        { role: 'admin', group: 'cn=mes-admins,ou=groups,dc=example,dc=com' },
        { role: 'viewer', group: '*' },
      ],
    });
  });

  it('refuses clear-text LDAP in production with one line, and accepts StartTLS instead', () => {
    const problems = problemsOf({ ...PROD, ...LDAP, LDAP_URL: 'ldap://dc1.example.com' });
    expect(problems).toEqual(['LDAP_URL must be ldaps:// or LDAP_STARTTLS=true in production: passwords would cross the network in clear']);
    expect(problemsOf({ ...PROD, ...LDAP, LDAP_URL: 'ldap://dc1.example.com', LDAP_STARTTLS: 'true' })).toEqual([]);
    // Outside production a lab directory without TLS is allowed.
    expect(problemsOf({ ...LDAP, LDAP_URL: 'ldap://127.0.0.1:3389' })).toEqual([]);
  });

  it('names each missing or contradictory setting, never a value', () => {
    const problems = problemsOf({ AUTH_PROVIDERS: 'ldap', LDAP_BIND_DN: 'cn=x,dc=example,dc=com' });
    expect(problems).toEqual([
      'LDAP_URL is required when AUTH_PROVIDERS includes ldap',
      'LDAP_USER_BASE is required when AUTH_PROVIDERS includes ldap',
      'LDAP_ROLE_RULES is required when AUTH_PROVIDERS includes ldap (who gets which role)',
      'LDAP_BIND_DN and LDAP_BIND_PASSWORD are set together or not at all',
    ]);
    expect(problemsOf({ ...LDAP, LDAP_STARTTLS: 'true' })).toEqual(['LDAP_STARTTLS is for ldap:// URLs; an ldaps:// URL is already TLS']);
    expect(problemsOf({ ...LDAP, LDAP_CA_FILE: '/nonexistent/ca.pem' })).toEqual(['LDAP_CA_FILE cannot be read']);
    expect(problemsOf({ AUTH_PROVIDERS: 'ldap,kerberos' })[0]).toMatch(/^AUTH_PROVIDERS is invalid/);
    expect(problemsOf({ AUTH_PROVIDERS: 'local,local' })).toEqual(['AUTH_PROVIDERS lists a provider twice']);
    expect(problemsOf({ ...LDAP, LDAP_USER_FILTER: '(uid=alice)' })[0]).toMatch(/^LDAP_USER_FILTER is invalid/);
    expect(problemsOf({ ...LDAP, LDAP_USER_FILTER: '(uid={username}))' })).toEqual(['LDAP_USER_FILTER is not a valid LDAP filter (check its parentheses)']);
    expect(problemsOf({ ...LDAP, LDAP_URL: 'https://dc1.example.com' })[0]).toMatch(/^LDAP_URL is invalid/);
  });
});

describe(parseRoleRules.name, () => {
  it('keeps the order and lower-cases roles and DNs', () => {
    expect(parseRoleRules(' Admin = CN=A,DC=x ; operator=cn=b,dc=x').rules).toEqual([
      { role: 'admin', group: 'cn=a,dc=x' },
      { role: 'operator', group: 'cn=b,dc=x' },
    ]);
  });

  it('refuses unknown roles, non-DN groups, stray separators and rules after `*`, by position', () => {
    expect(parseRoleRules('root=cn=a,dc=x').problems).toEqual(['LDAP_ROLE_RULES entry 1 must start with a role (viewer, operator, admin) and \'=\'']);
    expect(parseRoleRules('admin=mes-admins').problems[0]).toMatch(/entry 1: the group must be a DN/);
    expect(parseRoleRules('admin=cn=a,dc=x;;viewer=*').problems).toEqual(["LDAP_ROLE_RULES entry 2 is empty (a stray ';'?)"]);
    expect(parseRoleRules('viewer=*;admin=cn=a,dc=x').problems).toEqual(["LDAP_ROLE_RULES entry 1: '*' must be the last rule (rules after it could never match)"]);
  });

  it('normalises DNs the way group DNs from the directory are compared', () => {
    expect(normaliseDn(' CN=Mes Admins , OU=Groups,DC=Example,DC=com ')).toBe('cn=mes admins,ou=groups,dc=example,dc=com');
    expect(normaliseDn('cn=a\\, b,dc=x')).toBe('cn=a\\, b,dc=x');
  });
});
