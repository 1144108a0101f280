import { Injectable } from '@nestjs/common';
import type { Actor } from '../admin/admin.service.js';
import { AuditLogService } from '../admin/audit-log.service.js';
import { PasswordHasher } from '../auth/password-hasher.js';
import { AppException } from '../core/errors/index.js';
import { DatabaseService } from '../database/database.service.js';
import type { Role } from '../database/entities/index.js';
import type { SqlClient } from '../database/pool-manager.js';
import type { IdempotencyScope } from '../idempotency/idempotency.service.js';
import { IdempotencyService } from '../idempotency/idempotency.service.js';
import type { RevocationCause } from '../security/session/account-status.js';
import { SessionRevocation } from '../security/session/session-revocation.js';
import { generateOneTimePassword, OneTimePasswordSeal } from './one-time-password.js';
import { insertLocalUser, listUsers, resetPassword, setDisabled, setRole, type UserChange, type UserSummary } from './user-accounts.js';

export interface Command {
  actor: Actor;
  reason: string;
  correlationId: string;
}

export interface CreatedUser {
  user: UserSummary;
  /** Shown once; null only for a replay that can no longer open the sealed answer (see OneTimePasswordSeal). */
  oneTimePassword: string | null;
}

export interface ChangedUser {
  user: UserSummary;
  /** Sessions that were live and are now ended (0 when the change did not call for it). */
  revokedSessions: number;
}

export interface PasswordReset extends ChangedUser {
  /** Shown once; null only for a replay that can no longer open the sealed answer (see OneTimePasswordSeal). */
  oneTimePassword: string | null;
}

/** What the idempotency store keeps of a reset: the change, the password only sealed. */
interface StoredReset {
  change: UserChange;
  sealedPassword: string;
}

/** What the idempotency store keeps of a creation: the password only sealed. */
interface StoredCreation {
  user: UserSummary;
  sealedPassword: string;
}

/**
 * User management for admins. Every change is audited like the other operator actions: a
 * `requested` row first (no row, no change), then the outcome, refusals and failures included.
 * A change that must end the user's sessions (role change, disable, password reset) commits
 * first and then revokes them, so the revoked sessions cannot log back into the old state.
 */
@Injectable()
export class UsersService {
  constructor(
    private readonly db: DatabaseService,
    private readonly audit: AuditLogService,
    private readonly hasher: PasswordHasher,
    private readonly revocation: SessionRevocation,
    private readonly idempotency: IdempotencyService,
    private readonly seal: OneTimePasswordSeal,
  ) {}

  list(limit: number, afterId: number | null): Promise<UserSummary[]> {
    return this.db.run((sql) => listUsers(sql, limit, afterId));
  }

  /** The one-time password is never logged: it is in the answer only (and sealed in the idempotency store). */
  async create(command: Command & { username: string; role: Role }, scope: IdempotencyScope | null): Promise<CreatedUser> {
    const details = { username: command.username, role: command.role };
    return this.audited('user.create', command, details, async () => {
      const password = generateOneTimePassword();
      const hash = await this.hasher.hash(password);
      const stored = await this.idempotency.write<StoredCreation>(scope, async (sql) => ({
        user: await insertLocalUser(sql, command.username, command.role, hash),
        sealedPassword: this.seal.seal(password),
      }));
      const replayed = scope?.replayed === true;
      const result: CreatedUser = { user: stored.user, oneTimePassword: replayed ? this.seal.open(stored.sealedPassword) : password };
      return { result, outcome: replayed ? 'replayed (Idempotency-Key)' : 'created', details: { userId: stored.user.id } };
    });
  }

  setRole(command: Command & { userId: number; role: Role }): Promise<ChangedUser> {
    return this.change('user.role', command, { role: command.role }, (sql) => setRole(sql, command.userId, command.role), (c) =>
      c.before.role !== c.after.role ? 'role_changed' : null,
    );
  }

  setDisabled(command: Command & { userId: number; disabled: boolean }): Promise<ChangedUser> {
    return this.change(command.disabled ? 'user.disable' : 'user.enable', command, {}, (sql) => setDisabled(sql, command.userId, command.disabled), () =>
      // Disabling again still ends whatever session might have slipped in: it costs nothing.
      command.disabled ? 'disabled' : null,
    );
  }

  /**
   * With a scope, a repeat of the same request (the console form re-submitted) answers the first
   * reset's one-time password again and neither resets nor ends sessions again: sessions begun
   * since with that password stay. Audited as `replayed (Idempotency-Key)`, not as another reset.
   */
  async resetPassword(command: Command & { userId: number }, scope: IdempotencyScope | null): Promise<PasswordReset> {
    return this.audited('user.reset-password', command, { userId: command.userId }, async () => {
      const password = generateOneTimePassword();
      const hash = await this.hasher.hash(password);
      const stored = await this.idempotency.write<StoredReset>(scope, async (sql) => ({
        change: await resetPassword(sql, command.userId, hash),
        sealedPassword: this.seal.seal(password),
      }));
      if (scope?.replayed === true) {
        const user = stored.change.after;
        return {
          result: { user, revokedSessions: 0, oneTimePassword: this.seal.open(stored.sealedPassword) },
          outcome: 'replayed (Idempotency-Key)',
          details: { username: user.username },
        };
      }
      const done = await this.revokeAfter(stored.change, 'password_changed');
      return { ...done, result: { ...done.result, oneTimePassword: password } };
    });
  }

  private change(
    action: string,
    command: Command & { userId: number },
    extra: Record<string, unknown>,
    work: (sql: SqlClient) => Promise<UserChange>,
    revokeFor: (change: UserChange) => RevocationCause | null,
  ): Promise<ChangedUser> {
    return this.audited(action, command, { userId: command.userId, ...extra }, async () => {
      const change = await this.db.transaction(work);
      return this.revokeAfter(change, revokeFor(change));
    });
  }

  /** After the change committed: ends the user's sessions when `cause` says so. */
  private async revokeAfter(change: UserChange, cause: RevocationCause | null): Promise<{ result: ChangedUser; outcome: string; details: Record<string, unknown> }> {
    const details = { username: change.after.username, before: pick(change.before), after: pick(change.after) };
    let revokedSessions = 0;
    if (cause !== null) {
      try {
        revokedSessions = await this.revocation.revokeUser(change.after.id, cause);
      } catch (error) {
        // Applied, but the sessions could not be ended now (session store down): they end at
        // their next request through the account check; a retry of the call ends them too (a
        // replay of a keyed reset does not: see resetPassword).
        throw new RevocationFailed(error, details);
      }
    }
    return { result: { user: change.after, revokedSessions }, outcome: cause === null ? 'applied' : `applied; sessions revoked (${cause})`, details: { ...details, revokedSessions } };
  }

  private async audited<T>(
    action: string,
    command: Command,
    details: Record<string, unknown>,
    act: () => Promise<{ result: T; outcome: string; details: Record<string, unknown> }>,
  ): Promise<T> {
    const base = { actorId: command.actor.id, action, reason: command.reason, correlationId: command.correlationId };
    await this.audit.append({ ...base, outcome: 'requested', details });
    let done: Awaited<ReturnType<typeof act>>;
    try {
      done = await act();
    } catch (error) {
      const applied = error instanceof RevocationFailed;
      const cause = applied ? error.cause : error;
      const code = cause instanceof AppException ? cause.code : 'INTERNAL';
      const outcome = applied ? `applied; sessions not revoked: ${code}` : `${cause instanceof AppException && cause.status < 500 ? 'refused' : 'failed'}: ${code}`;
      const message = cause instanceof AppException && cause.status < 500 ? cause.message : undefined;
      await this.audit
        .append({ ...base, outcome, details: { ...details, ...(applied ? error.details : {}), ...(message ? { message } : {}) } })
        .catch(() => undefined);
      throw cause;
    }
    await this.audit.append({ ...base, outcome: done.outcome, details: { ...details, ...done.details } });
    return done.result;
  }
}

class RevocationFailed extends Error {
  constructor(
    override readonly cause: unknown,
    readonly details: Record<string, unknown>,
  ) {
    super('sessions not revoked');
  }
}

const pick = (u: UserSummary) => ({ role: u.role, disabled: u.disabled, mustChangePassword: u.mustChangePassword });
