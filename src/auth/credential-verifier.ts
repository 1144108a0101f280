import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { DatabaseService } from '../database/database.service.js';
import type { Role } from '../database/entities/index.js';
import type { AuthenticatedUser } from './auth.decorators.js';
import { AccountStatus, credentialStamp } from '../security/session/account-status.js';
import { PasswordHasher } from './password-hasher.js';

/** A user whose password just matched, and the stamp of the hash it matched (see AccountStatus). */
export interface VerifiedUser {
  user: AuthenticatedUser;
  credential: string;
  /** Signed in with a one-time password: the session is held to the password change. */
  mustChangePassword: boolean;
}

interface UserRow {
  id: number;
  username: string;
  role: Role;
  password_hash: string;
  disabled: boolean;
  must_change_password: boolean;
}

/**
 * Username and password to a user, or null. Every attempt runs exactly one argon2 verify
 * (against a dummy hash for unknown users, the real one for disabled users), so neither
 * response time nor message tells an attacker which usernames exist.
 */
@Injectable()
export class CredentialVerifier implements OnApplicationBootstrap {
  constructor(
    private readonly db: DatabaseService,
    private readonly hasher: PasswordHasher,
    private readonly accounts: AccountStatus,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // Computes the dummy hash now, or the first unknown username would be the slow one.
    await this.hasher.verify(null, '');
  }

  async verify(username: string, password: string): Promise<VerifiedUser | null> {
    const [row] = (await this.db.run((m) =>
      m.query('/* auth.user_by_name */ SELECT id, username, role, password_hash, disabled, must_change_password FROM users WHERE username = $1', [username]),
    )) as UserRow[];
    const matches = await this.hasher.verify(row?.password_hash ?? null, password);
    if (row === undefined || !matches || row.disabled) return null;
    const credential = credentialStamp(row.password_hash);
    // The row was just read: the session's first requests need not read it again.
    this.accounts.remember(row.id, { role: row.role, disabled: row.disabled, credential });
    return { user: { id: row.id, username: row.username, role: row.role }, credential, mustChangePassword: row.must_change_password };
  }

  /** For the user list ("last login"); a login never fails because this could not be written. */
  async recordLogin(userId: number): Promise<void> {
    await this.db.run((m) => m.query('/* auth.last_login */ UPDATE users SET last_login_at = now() WHERE id = $1', [userId]));
  }
}
