import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Logger } from 'pino';
import type { AuthProviderName } from '../config/directory-config.js';
import type { RampartConfig } from '../config/rampart-config.js';
import { DatabaseService } from '../database/database.service.js';
import type { Role } from '../database/entities/index.js';
import { ROOT_LOGGER } from '../observability/observability.tokens.js';
import { requestContext } from '../observability/request-context.js';
import {
  DIRECTORY_FAILURE_BUDGET,
  type LoginAttempt,
  LoginFailureBudget,
  normaliseUsername,
} from '../security/rate-limit/login-failure-budget.js';
import { AccountStatus, credentialStamp, type RevocationCause } from '../security/session/account-status.js';
import { SessionRevocation } from '../security/session/session-revocation.js';
import type { AuthenticatedUser } from './auth.decorators.js';
import { DIRECTORY, type DirectorySignIn } from './directory/directory-sign-in.js';
import { PasswordHasher } from './password-hasher.js';

/** A user whose password just matched, and the stamp of the hash it matched (see AccountStatus). */
export interface VerifiedUser {
  user: AuthenticatedUser;
  credential: string;
  /** Signed in with a one-time password: the session is held to the password change. */
  mustChangePassword: boolean;
  /** A directory user's session ends this long after sign-in at the latest (LDAP_SESSION_MAX_S). */
  maxLifetimeS?: number;
  /** The sign-in already wrote `last_login_at` (the directory upsert does); otherwise `recordLogin`. */
  loginRecorded: boolean;
}

interface UserRow {
  id: number;
  username: string;
  role: Role;
  password_hash: string;
  disabled: boolean;
  source: AuthProviderName;
  must_change_password: boolean;
}

/** Why a directory sign-in was refused, as its log line names it (see RUNBOOK section 9). */
export type DirectoryRefusal = 'not-found' | 'no-role' | 'wrong-password' | 'disabled' | 'empty-password' | 'name-is-local';

/** What directory users have instead of a password hash: never valid argon2, so never a local match. */
export const DIRECTORY_PASSWORD_HASH = '!directory';

/**
 * Username and password to a user, or null. The name is normalised (NFKC, trimmed, lower case:
 * the spelling the failure budget counts) and its row decides the provider: a local user is
 * checked against its hash without asking the directory (so the break-glass admin signs in
 * while the directory is down), a directory user only by the directory; a name Rampart has
 * never seen is looked up in the directory when `ldap` is among AUTH_PROVIDERS.
 *
 * Every attempt runs exactly one argon2 verify (against a dummy hash for unknown and directory
 * users, the real one for local and disabled local users), and every directory attempt runs
 * the same LDAP round trips found or not (LdapDirectory), so neither response time nor message
 * tells an attacker which directory usernames exist. What timing does tell with ldap enabled is
 * which names are local (no directory exchange): accepted and documented (RUNBOOK section 9).
 */
@Injectable()
export class CredentialVerifier implements OnApplicationBootstrap {
  private readonly localEnabled: boolean;

  constructor(
    private readonly db: DatabaseService,
    private readonly hasher: PasswordHasher,
    private readonly accounts: AccountStatus,
    private readonly revocation: SessionRevocation,
    @Inject(DIRECTORY) private readonly directory: DirectorySignIn | null,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
    private readonly failures: LoginFailureBudget,
    @Inject(DIRECTORY_FAILURE_BUDGET) private readonly directoryFailures: LoginFailureBudget,
    config: ConfigService<RampartConfig, true>,
  ) {
    this.localEnabled = config.get('auth', { infer: true }).providers.includes('local');
  }

  async onApplicationBootstrap(): Promise<void> {
    // Computes the dummy hash now, or the first unknown username would be the slow one.
    await this.hasher.verify(null, '');
  }

  async verify(username: string, password: string): Promise<VerifiedUser | null> {
    const name = normaliseUsername(username);
    // Case-insensitive, so a local row written with capitals still signs in; a row already in the
    // normalised spelling wins over one that differs only in case.
    const [row] = (await this.db.run((m) =>
      m.query(
        `/* auth.user_by_name */ SELECT id, username, role, password_hash, disabled, source, must_change_password FROM users
         WHERE lower(username) = $1 ORDER BY (username = $1) DESC, id LIMIT 1`,
        [name],
      ),
    )) as UserRow[];
    if (this.directory !== null && (row === undefined || row.source === 'ldap')) {
      return this.verifyInDirectory(this.directory, name, password, row);
    }
    const local = row !== undefined && row.source === 'local' && this.localEnabled ? row : undefined;
    const matches = await this.hasher.verify(local?.password_hash ?? null, password);
    if (local === undefined || !matches || local.disabled) return null;
    return this.accepted(local);
  }

  private async verifyInDirectory(directory: DirectorySignIn, name: string, password: string, row: UserRow | undefined): Promise<VerifiedUser | null> {
    // The attempt's one argon2 verify (see class comment), before the directory can fail.
    await this.hasher.verify(null, password);
    // AD and OpenLDAP take an empty password as an unauthenticated bind that "succeeds".
    if (password === '') return this.refused('empty-password', name, row);
    const attempt = await this.admitToDirectory(name);
    try {
      const verified = await this.askDirectory(directory, name, password, row);
      if (verified === null) attempt.failed();
      return verified;
    } finally {
      await attempt.settle();
    }
  }

  /**
   * Charges the attempt against the name's directory budget (LDAP_FAILURES_PER_ACCOUNT), before
   * any bind: past it, 429 without asking the directory, so Rampart's bad binds per name stay
   * below AD's lockout threshold when the budget is set below it (RUNBOOK section 9).
   * When that budget cannot be counted it answers SESSION_STORE_UNAVAILABLE, not
   * AUTH_PROVIDER_UNAVAILABLE: the store is the sessions' Redis (no session could be made
   * anyway, and that code sends on-call and clients to the right culprit), while the directory
   * is fine (the login page would tell users it cannot be reached); and it comes before any
   * bind, so right and wrong passwords get the same answer: no oracle, no uncounted guess.
   */
  private admitToDirectory(name: string): Promise<LoginAttempt> {
    // No RateLimit fields: they would mark which names go to the directory (local ones do not).
    return this.directoryFailures.admit(name, null);
  }

  private async askDirectory(directory: DirectorySignIn, name: string, password: string, row: UserRow | undefined): Promise<VerifiedUser | null> {
    const outcome = await directory.check(name, password);
    if (outcome.kind === 'refused') return this.refused('wrong-password', name, row);
    if (outcome.kind === 'not-found' || outcome.role === null) {
      // The directory no longer vouches for this user: whatever sessions they still hold end now.
      if (row !== undefined) {
        const reason = outcome.kind === 'not-found' ? 'not returned by the directory' : 'no LDAP_ROLE_RULES rule matches their groups';
        await this.revoke(row, 'disabled', 'directory.access-removed', reason, {});
      }
      return this.refused(outcome.kind === 'not-found' ? 'not-found' : 'no-role', name, row);
    }
    // Disabled in Rampart (user management): refused like a wrong password, the row left as it is.
    if (row?.disabled === true) return this.refused('disabled', name, row);
    const [user] = (await this.db.run((m) =>
      m.query(
        `/* auth.directory_upsert */ INSERT INTO users (username, password_hash, role, source, directory_dn, last_login_at, updated_at)
         VALUES ($1, $2, $3, 'ldap', $4, now(), now())
         ON CONFLICT (username) DO UPDATE SET role = EXCLUDED.role, directory_dn = EXCLUDED.directory_dn, last_login_at = now(), updated_at = now()
         WHERE users.source = 'ldap'
         RETURNING id, username, role, password_hash, disabled, source, must_change_password`,
        [row?.username ?? name, DIRECTORY_PASSWORD_HASH, outcome.role, outcome.dn],
      ),
    )) as UserRow[];
    // A local user of that name appeared meanwhile: a directory entry never takes over a local account.
    if (user === undefined) return this.refused('name-is-local', name, row);
    if (row !== undefined && row.role !== user.role) {
      await this.revoke(user, 'role_changed', 'directory.role-changed', 'directory groups changed', { from: row.role, to: user.role });
    }
    if (user.disabled) return this.refused('disabled', name, user);
    // The directory is asked again only at a sign-in: this bounds how long a user removed or
    // disabled there keeps a session (the re-check is the next sign-in it forces).
    return { ...this.accepted(user), maxLifetimeS: directory.sessionMaxS, loginRecorded: true };
  }

  /**
   * The one line that says why the directory path refused (the answer is the same 401 for all):
   * the user id when Rampart has a row, else the name's `subject` (the HMAC the failed-login
   * budget keys on; RUNBOOK shows how to compute it for a name). Never the name itself, like
   * every login-failed line (people type passwords into the username field), never the password.
   */
  private refused(outcome: DirectoryRefusal, name: string, row: Pick<UserRow, 'id'> | undefined): null {
    const who = row === undefined ? { subject: this.failures.subject(name) } : { userId: row.id };
    this.logger.info({ event: 'directory-login-refused', outcome, ...who }, `directory sign-in refused: ${outcome}`);
    return null;
  }

  private accepted(row: UserRow): VerifiedUser {
    const credential = credentialStamp(row.password_hash);
    // The row was just read: the session's first requests need not read it again.
    this.accounts.remember(row.id, { role: row.role, disabled: row.disabled, credential });
    return { user: { id: row.id, username: row.username, role: row.role }, credential, mustChangePassword: row.must_change_password, loginRecorded: false };
  }

  /** For the user list ("last login"); a login never fails because this could not be written. */
  async recordLogin(userId: number): Promise<void> {
    await this.db.run((m) => m.query('/* auth.last_login */ UPDATE users SET last_login_at = now() WHERE id = $1', [userId]));
  }

  /**
   * Ends the user's sessions and, when that changed anything, leaves an audit row with the user
   * as actor (the directory acted; the sign-in attempt is what noticed).
   */
  private async revoke(row: UserRow, cause: RevocationCause, action: string, reason: string, details: Record<string, unknown>): Promise<void> {
    const revoked = await this.revocation.revokeUser(row.id, cause);
    if (revoked === 0 && action === 'directory.access-removed') return;
    this.logger.info({ event: action, userId: row.id, revoked, ...details }, reason);
    // The same append-only table and shape as the operator actions (admin/audit-log.service.ts,
    // which this module cannot import: admin depends on auth).
    await this.db.run((m) =>
      m.query(
        `/* auth.directory_audit */ INSERT INTO admin_audit_log (actor_id, action, reason, outcome, correlation_id, details)
         VALUES ($1, $2, $3, 'applied', $4, $5)`,
        [row.id, action, reason, requestContext.current()?.correlationId ?? null, JSON.stringify({ ...details, sessionsRevoked: revoked, source: 'ldap' })],
      ),
    );
  }
}
