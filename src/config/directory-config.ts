import { accessSync, constants } from 'node:fs';
import { Filter, FilterParser } from 'ldapts';

/** The roles a rule may grant; the same list as the `users.role` check in the database. */
export const DIRECTORY_ROLES = ['viewer', 'operator', 'admin'] as const;
export type DirectoryRole = (typeof DIRECTORY_ROLES)[number];

export type AuthProviderName = 'local' | 'ldap';
export type GroupSearch = 'member' | 'memberOf' | 'ad-nested';

/** One `LDAP_ROLE_RULES` entry: members of `group` (a normalised DN, or `*` for anyone found) get `role`. */
export interface RoleRule {
  role: DirectoryRole;
  group: string | '*';
}

export interface DirectoryConfig {
  url: string;
  bindDn: string | null;
  bindPassword: string | null;
  userBase: string;
  /** Contains `{username}`, replaced by the escaped, normalised username. */
  userFilter: string;
  groupSearch: GroupSearch;
  groupBase: string;
  rules: RoleRule[];
  connectTimeoutMs: number;
  timeoutMs: number;
  caFile: string | null;
  startTls: boolean;
  /** LDAP_SESSION_MAX_S: absolute timeout of directory users' sessions (capped by SESSION_ABSOLUTE_TIMEOUT_S). */
  sessionMaxS: number;
}

export interface AuthConfig {
  /** AUTH_PROVIDERS in order, no duplicates. */
  providers: AuthProviderName[];
  /** Null unless `ldap` is among the providers. */
  directory: DirectoryConfig | null;
}

/**
 * A DN in one spelling for comparing group names: attribute types and values lower-cased
 * (directories compare both case-insensitively for the usual cn/ou/dc), spaces around the
 * separators dropped. Escaped separators (`\,`) are kept as they are.
 */
export function normaliseDn(dn: string): string {
  return dn
    .trim()
    .replace(/\s*(?<!\\)([,=+])\s*/g, '$1')
    .toLowerCase();
}

/**
 * `LDAP_ROLE_RULES`: `role=group DN` entries separated by `;`, checked in order, the first
 * group the user is a member of decides; `role=*` (last only) grants that role to anyone the
 * directory returns. Example: `admin=cn=mes-admins,ou=groups,dc=example,dc=com;viewer=*`.
 * Returns the rules or the problems, each naming the entry by position, never its value.
 */
export function parseRoleRules(text: string): { rules: RoleRule[]; problems: string[] } {
  const rules: RoleRule[] = [];
  const problems: string[] = [];
  const entries = text.split(';').map((entry) => entry.trim());
  entries.forEach((entry, index) => {
    const position = `LDAP_ROLE_RULES entry ${index + 1}`;
    if (entry === '') {
      problems.push(`${position} is empty (a stray ';'?)`);
      return;
    }
    const equals = entry.indexOf('=');
    const role = entry.slice(0, Math.max(0, equals)).trim().toLowerCase();
    const group = entry.slice(equals + 1).trim();
    if (equals <= 0 || !(DIRECTORY_ROLES as readonly string[]).includes(role)) {
      problems.push(`${position} must start with a role (${DIRECTORY_ROLES.join(', ')}) and '='`);
      return;
    }
    if (group === '*') {
      if (index !== entries.length - 1) problems.push(`${position}: '*' must be the last rule (rules after it could never match)`);
      rules.push({ role: role as DirectoryRole, group: '*' });
      return;
    }
    if (!/^[a-z][a-z0-9-]*\s*=\s*[^,]+/i.test(group)) {
      problems.push(`${position}: the group must be a DN such as cn=name,ou=groups,dc=example,dc=com, or '*'`);
      return;
    }
    rules.push({ role: role as DirectoryRole, group: normaliseDn(group) });
  });
  return { rules, problems };
}

/**
 * LDAP_USER_FILTER with the username in it, escaped, or null when the result is no filter
 * ldapts can parse. split/join, not replace: a replacement string would read `$&`, `$\``
 * and `$'` in the username as patterns (Filter.escape leaves `$` alone), splicing parts of the
 * template into the filter. A configured filter that cannot parse is refused at start
 * (directoryConfig), so null here means the username made it so: the caller's input, not a
 * directory failure.
 */
export function userFilterFor(template: string, username: string): string | null {
  const filter = template.split('{username}').join(Filter.escape(username));
  try {
    FilterParser.parseString(filter);
    return filter;
  } catch {
    return null;
  }
}

type Values = Record<string, unknown>;

/** AUTH_PROVIDERS and LDAP_*: the configuration, or problems for `loadConfig` to report (exit 78). */
export function directoryConfig(v: Values, isProduction: boolean, problems: string[]): AuthConfig {
  const providers = [...new Set(String(v.AUTH_PROVIDERS ?? 'local').split(',').map((name) => name.trim()))] as AuthProviderName[];
  if (String(v.AUTH_PROVIDERS ?? 'local').split(',').length !== providers.length) {
    problems.push('AUTH_PROVIDERS lists a provider twice');
  }
  if (!providers.includes('ldap')) return { providers, directory: null };

  const str = (key: string) => (typeof v[key] === 'string' && v[key] !== '' ? (v[key] as string) : null);
  const url = str('LDAP_URL');
  const userBase = str('LDAP_USER_BASE');
  const rulesText = str('LDAP_ROLE_RULES');
  if (url === null) problems.push('LDAP_URL is required when AUTH_PROVIDERS includes ldap');
  if (userBase === null) problems.push('LDAP_USER_BASE is required when AUTH_PROVIDERS includes ldap');
  if (rulesText === null) problems.push('LDAP_ROLE_RULES is required when AUTH_PROVIDERS includes ldap (who gets which role)');
  const bindDn = str('LDAP_BIND_DN');
  const bindPassword = str('LDAP_BIND_PASSWORD');
  if ((bindDn === null) !== (bindPassword === null)) problems.push('LDAP_BIND_DN and LDAP_BIND_PASSWORD are set together or not at all');
  const startTls = v.LDAP_STARTTLS === true;
  const secure = url !== null && url.toLowerCase().startsWith('ldaps://');
  if (secure && startTls) problems.push('LDAP_STARTTLS is for ldap:// URLs; an ldaps:// URL is already TLS');
  if (isProduction && url !== null && !secure && !startTls) {
    problems.push('LDAP_URL must be ldaps:// or LDAP_STARTTLS=true in production: passwords would cross the network in clear');
  }
  const caFile = str('LDAP_CA_FILE');
  if (caFile !== null) {
    try {
      accessSync(caFile, constants.R_OK);
    } catch {
      problems.push('LDAP_CA_FILE cannot be read');
    }
  }
  if (userFilterFor(String(v.LDAP_USER_FILTER), 'username') === null) {
    problems.push('LDAP_USER_FILTER is not a valid LDAP filter (check its parentheses)');
  }
  const groupSearch = (str('LDAP_GROUP_SEARCH') ?? 'member') as GroupSearch;
  const parsed = rulesText === null ? { rules: [], problems: [] } : parseRoleRules(rulesText);
  problems.push(...parsed.problems);
  return {
    providers,
    directory: {
      url: url ?? '',
      bindDn,
      bindPassword,
      userBase: userBase ?? '',
      userFilter: String(v.LDAP_USER_FILTER),
      groupSearch,
      groupBase: str('LDAP_GROUP_BASE') ?? userBase ?? '',
      rules: parsed.rules,
      connectTimeoutMs: Number(v.LDAP_CONNECT_TIMEOUT_MS),
      timeoutMs: Number(v.LDAP_TIMEOUT_MS),
      caFile,
      startTls,
      sessionMaxS: Number(v.LDAP_SESSION_MAX_S),
    },
  };
}
