import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Client, type ClientOptions, type Entry, Filter, InvalidCredentialsError, type SearchOptions } from 'ldapts';
import type { DirectoryConfig } from '../../config/directory-config.js';
import { normaliseDn, userFilterFor } from '../../config/directory-config.js';

/** What the directory said about a username and password; an unreachable directory throws DirectoryError instead. */
export type DirectoryVerdict =
  | { kind: 'not-found' }
  | { kind: 'refused'; dn: string }
  | { kind: 'accepted'; dn: string; groups: string[] };

/**
 * The directory failed to give a verdict: unreachable, timed out, or answered the service
 * account's search with an error (a configuration problem looks the same to a user). Never
 * carries the username or password.
 */
export class DirectoryError extends Error {
  constructor(
    message: string,
    /** Refused or reset before any answer: the first health ping that answers is a recovery. */
    readonly unreachable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DirectoryError';
  }
}

/** Nested groups are followed this many levels below the user's direct groups (member mode). */
export const MAX_GROUP_DEPTH = 5;
/** A level with more groups than this ends the walk: one login must not enumerate the directory. */
const MAX_GROUPS = 500;
/** AD's LDAP_MATCHING_RULE_IN_CHAIN: membership through any depth of nesting, resolved by the DC. */
export const AD_IN_CHAIN = '1.2.840.113556.1.4.1941';

export type ClientFactory = (options: ClientOptions) => Client;

/**
 * The LDAP conversation of one sign-in over one connection of its own, closed before the
 * verdict is returned: connect (StartTLS when configured), bind as the service account, search
 * the user, bind as the DN the directory returned with the user's password, and only then
 * (service account again) resolve the groups. Referrals are never chased (ldapts returns them
 * as references, which are ignored). A username the directory does not return still costs a
 * bind against a DN that cannot exist, so "unknown" and "wrong password" take the same round
 * trips: service bind, search, bind, unbind.
 */
export class LdapDirectory {
  private readonly tls: ConnectionOptions | undefined;
  private readonly open = new Set<Client>();
  private closed = false;

  constructor(
    private readonly config: DirectoryConfig,
    private readonly createClient: ClientFactory = (options) => new Client(options),
  ) {
    const ca = config.caFile === null ? undefined : [readFileSync(config.caFile)];
    const secure = config.url.toLowerCase().startsWith('ldaps://') || config.startTls;
    this.tls = secure ? { minVersion: 'TLSv1.2', ...(ca === undefined ? {} : { ca }) } : undefined;
  }

  /** `username` is already normalised; the password is never logged, stored or put in an error. */
  async authenticate(username: string, password: string): Promise<DirectoryVerdict> {
    return this.withClient(async (client) => {
      await this.serviceBind(client);
      // A name that makes no valid filter finds nobody (parsed here: ldapts' parse error would
      // be a DirectoryError, a breaker failure anyone could cause, with the name in its message).
      const filter = userFilterFor(this.config.userFilter, username);
      const attributes = this.config.groupSearch === 'memberOf' ? ['memberOf'] : ['1.1'];
      const searchEntries = filter === null ? [] : (await this.search(client, this.config.userBase, { filter, attributes, sizeLimit: 2 })).searchEntries;
      // Two entries for one name is a directory problem, never a reason to pick one.
      const entry = searchEntries.length === 1 ? searchEntries[0]! : null;
      // Not found: the same bind, against a DN that cannot exist with a password nobody has.
      const dn = entry?.dn ?? `cn=${randomBytes(12).toString('hex')},${this.config.userBase}`;
      const passwordOk = await this.bindAs(client, dn, entry === null ? randomBytes(24).toString('base64url') : password);
      if (entry === null) return { kind: 'not-found' };
      if (!passwordOk) return { kind: 'refused', dn: entry.dn };
      // Groups only after the password is proven: a refusal costs what an unknown name costs.
      // The user's own bind may not be allowed to read groups; the service account is.
      await this.serviceBind(client);
      return { kind: 'accepted', dn: entry.dn, groups: await this.groupsOf(client, entry.dn, entry) };
    });
  }

  /** Connect and bind as the service account (or read the root DSE without one): the health check. */
  async ping(): Promise<void> {
    await this.withClient(async (client) => {
      if (this.config.bindDn !== null) await this.serviceBind(client);
      else await this.search(client, '', { scope: 'base', filter: '(objectClass=*)', attributes: ['1.1'] });
    });
  }

  /** Ends the connections of sign-ins still running (shutdown); each would end by its timeouts anyway. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.open].map((client) => client.unbind()));
    this.open.clear();
  }

  private async withClient<T>(conversation: (client: Client) => Promise<T>): Promise<T> {
    if (this.closed) throw new DirectoryError('directory client is shut down', false);
    const client = this.createClient({
      url: this.config.url,
      connectTimeout: this.config.connectTimeoutMs,
      timeout: this.config.timeoutMs,
      // ldapts speaks TLS from the first byte whenever tlsOptions is given: only for ldaps://.
      ...(this.tls === undefined || this.config.startTls ? {} : { tlsOptions: { ...this.tls } }),
      strictDN: false,
    });
    this.open.add(client);
    try {
      if (this.config.startTls) await this.startTls(client);
      return await conversation(client);
    } catch (error) {
      throw error instanceof DirectoryError ? error : asDirectoryError(error);
    } finally {
      // Not awaited: the verdict is known, and on a stalled connection the unbind only ends by
      // LDAP_TIMEOUT_MS. ldapts handles the socket's errors itself and destroys it either way.
      void client
        .unbind()
        .catch(() => undefined)
        .finally(() => this.open.delete(client));
    }
  }

  /**
   * ldapts' StartTLS handshake has no timer of its own (and writes the socket into the options
   * it is given, hence a fresh object each time): bounded here by the connect timeout.
   */
  private async startTls(client: Client): Promise<void> {
    const host = new URL(this.config.url).hostname;
    const options: ConnectionOptions = { ...this.tls, host, ...(isIP(host) === 0 ? { servername: host } : {}) };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DirectoryError('StartTLS timed out', false)), this.config.connectTimeoutMs);
    });
    const upgrade = client.startTLS(options);
    upgrade.catch(() => undefined);
    try {
      await Promise.race([upgrade, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async serviceBind(client: Client): Promise<void> {
    if (this.config.bindDn === null || this.config.bindPassword === null) return;
    await client.bind(this.config.bindDn, this.config.bindPassword);
  }

  /** True when the directory accepted the password; false on invalid credentials; throws otherwise. */
  private async bindAs(client: Client, dn: string, password: string): Promise<boolean> {
    // An empty password is an unauthenticated bind that "succeeds" (RFC 4513 5.1.2): never sent.
    if (password === '') return false;
    try {
      await client.bind(dn, password);
      return true;
    } catch (error) {
      if (error instanceof InvalidCredentialsError) return false;
      throw error;
    }
  }

  private async search(client: Client, base: string, options: SearchOptions): Promise<{ searchEntries: Entry[] }> {
    const timeLimit = Math.max(1, Math.ceil(this.config.timeoutMs / 1000));
    return client.search(base, { scope: 'sub', derefAliases: 'never', timeLimit, ...options });
  }

  /** Normalised DNs of the groups `dn` belongs to, nested ones included where the mode can see them. */
  private async groupsOf(client: Client, dn: string, entry: Entry | null): Promise<string[]> {
    const base = this.config.groupBase;
    switch (this.config.groupSearch) {
      case 'memberOf': {
        const values = entry?.memberOf;
        const list = values === undefined ? [] : Array.isArray(values) ? values : [values];
        return list.map((value) => normaliseDn(value.toString()));
      }
      case 'ad-nested': {
        const filter = `(member:${AD_IN_CHAIN}:=${Filter.escape(dn)})`;
        const { searchEntries } = await this.search(client, base, { filter, attributes: ['1.1'], sizeLimit: MAX_GROUPS });
        return searchEntries.map((group) => normaliseDn(group.dn));
      }
      case 'member': {
        const seen = new Set<string>();
        let frontier = [dn];
        for (let depth = 0; depth <= MAX_GROUP_DEPTH && frontier.length > 0 && seen.size < MAX_GROUPS; depth++) {
          const filter = `(|${frontier.map((member) => `(member=${Filter.escape(member)})(uniqueMember=${Filter.escape(member)})`).join('')})`;
          const { searchEntries } = await this.search(client, base, { filter, attributes: ['1.1'], sizeLimit: MAX_GROUPS });
          frontier = [];
          for (const group of searchEntries) {
            const name = normaliseDn(group.dn);
            if (seen.has(name)) continue;
            seen.add(name);
            frontier.push(group.dn);
          }
        }
        return [...seen];
      }
    }
  }
}

/** Any failure to get a verdict, with the transport's words but nothing the user typed. */
function asDirectoryError(error: unknown): DirectoryError {
  const code = (error as { code?: unknown } | null)?.code;
  const unreachable = code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EHOSTUNREACH' || code === 'ENOTFOUND';
  const message = error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : 'directory error';
  return new DirectoryError(message, unreachable, { cause: error });
}
