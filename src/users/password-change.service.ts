import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuditLogService } from '../admin/audit-log.service.js';
import type { AuthenticatedUser } from '../auth/auth.decorators.js';
import { PasswordHasher } from '../auth/password-hasher.js';
import { ForbiddenException, UnauthenticatedException, ValidationFailedException } from '../core/errors/index.js';
import { DatabaseService } from '../database/database.service.js';
import type { Role } from '../database/entities/index.js';
import { correlationIdOf } from '../observability/correlation.js';
import { LoginFailureBudget } from '../security/rate-limit/login-failure-budget.js';
import { credentialStamp } from '../security/session/account-status.js';
import { SessionControl } from '../security/session/session-control.js';
import { SessionRevocation } from '../security/session/session-revocation.js';
import { passwordPolicyViolations } from './password-policy.js';

interface PasswordRow {
  username: string;
  role: Role;
  source: 'local' | 'ldap';
  password_hash: string;
  previous_password_hash: string | null;
}

export const DIRECTORY_PASSWORD_MESSAGE = 'Directory users change their password in the directory, not here';

/**
 * A user changes their own password. The current password is required (a session left open on
 * a shared screen must not be enough), and a wrong one counts against the same per-username
 * failed-login budget as a failed login, so the endpoint is no way to guess passwords faster.
 * Afterwards every other session of the user is ended and this one continues under a new id.
 */
@Injectable()
export class PasswordChangeService {
  constructor(
    private readonly db: DatabaseService,
    private readonly hasher: PasswordHasher,
    private readonly failures: LoginFailureBudget,
    private readonly revocation: SessionRevocation,
    private readonly sessions: SessionControl,
    private readonly audit: AuditLogService,
  ) {}

  async change(req: Request, res: Response, user: AuthenticatedUser, currentPassword: string, newPassword: string): Promise<AuthenticatedUser> {
    const [row] = await this.db.run((sql) =>
      sql.query<PasswordRow>('/* users.password_row */ SELECT username, role, source, password_hash, previous_password_hash FROM users WHERE id = $1', [user.id]),
    );
    if (row === undefined) throw new UnauthenticatedException();
    if (row.source === 'ldap') throw new ForbiddenException(DIRECTORY_PASSWORD_MESSAGE);

    const attempt = await this.failures.admit(row.username, res);
    let currentOk = false;
    try {
      currentOk = await this.hasher.verify(row.password_hash, currentPassword);
      if (!currentOk) attempt.failed();
    } finally {
      await attempt.settle();
    }
    if (!currentOk) throw new ValidationFailedException([{ path: 'currentPassword', message: 'is not your current password' }], 'The current password is wrong');

    const violations = passwordPolicyViolations(newPassword, row.username);
    if (violations.length === 0 && (await this.hasher.verify(row.password_hash, newPassword))) {
      violations.push({ path: 'newPassword', message: 'must differ from the current password' });
    }
    if (violations.length === 0 && row.previous_password_hash !== null && (await this.hasher.verify(row.previous_password_hash, newPassword))) {
      violations.push({ path: 'newPassword', message: 'must not be the previous password' });
    }
    if (violations.length > 0) throw new ValidationFailedException(violations, 'The new password does not meet the password policy');

    const hash = await this.hasher.hash(newPassword);
    // Only over the hash that was checked: a reset or change in between wins, and this one is refused.
    const updated = await this.db.run((sql) =>
      sql.query<{ role: Role; username: string }>(
        `/* users.change_password */ UPDATE users SET previous_password_hash = password_hash, password_hash = $2, must_change_password = false,
           password_changed_at = now(), updated_at = now() WHERE id = $1 AND password_hash = $3 AND NOT disabled RETURNING role, username`,
        [user.id, hash, row.password_hash],
      ),
    );
    if (updated.length === 0) throw new UnauthenticatedException('The account changed while the password was being changed; sign in again');
    const fresh: AuthenticatedUser = { id: user.id, username: updated[0]!.username, role: updated[0]!.role };
    const revokedSessions = await this.revocation.revokeUser(user.id, 'password_changed');
    // The session that made the change goes on under a new id, bound to the new password.
    await this.sessions.establish(req, res, fresh, credentialStamp(hash));
    await this.audit
      .append({
        actorId: user.id,
        action: 'user.password.change',
        reason: 'self-service',
        outcome: 'changed; other sessions revoked',
        correlationId: correlationIdOf(req),
        details: { userId: user.id, username: fresh.username, revokedSessions: Math.max(0, revokedSessions - 1) },
      })
      .catch((error: unknown) => req.log?.warn({ err: error }, 'password change not audited'));
    req.log?.info({ event: 'password-changed', userId: user.id }, 'password changed');
    return fresh;
  }
}
