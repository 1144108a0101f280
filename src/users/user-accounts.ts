import { ForbiddenException, NotFoundException, ValidationFailedException } from '../core/errors/index.js';
import type { Role } from '../database/entities/index.js';
import type { SqlClient } from '../database/pool-manager.js';
import { normaliseUsername } from '../security/rate-limit/login-failure-budget.js';

/**
 * The SQL of user management, on a caller's connection or transaction, shared by the admin API
 * and the `users` command line so both apply the same rules: directory users are read-only
 * except disable/enable (and sign-out), and the last enabled local admin can be neither demoted
 * nor disabled.
 */

/**
 * Local usernames: lower case, so that logins, rate limits and audit rows all see one spelling.
 * Tested after normaliseUsername (the sign-in's own folding): `Bob` is created as `bob`.
 */
export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._@-]{1,63}$/;

export { normaliseUsername };

export interface UserSummary {
  id: number;
  username: string;
  source: 'local' | 'ldap';
  role: Role;
  disabled: boolean;
  mustChangePassword: boolean;
  lastLoginAt: string | null;
  createdAt: string;
}

interface UserRow {
  id: number;
  username: string;
  source: 'local' | 'ldap';
  role: Role;
  disabled: boolean;
  must_change_password: boolean;
  last_login_at: Date | null;
  created_at: Date;
}

const COLUMNS = 'id, username, source, role, disabled, must_change_password, last_login_at, created_at';

function summary(row: UserRow): UserSummary {
  return {
    id: row.id,
    username: row.username,
    source: row.source,
    role: row.role,
    disabled: row.disabled,
    mustChangePassword: row.must_change_password,
    lastLoginAt: row.last_login_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
  };
}

/**
 * Refusal of an action that would leave no enabled local admin. Directory admins do not count:
 * the directory can demote them at their next sign-in (the upsert rewrites the role without this
 * lock) or be down, and then nobody could manage users any more; the local admin is the break-glass.
 */
export class LastAdminException extends ForbiddenException {
  constructor(username: string) {
    super(`Refused: ${username} is the last enabled local admin (directory admins do not count); make another local user admin (or enable one) first`);
  }
}

export class DirectoryUserException extends ForbiddenException {
  constructor(username: string, what: string) {
    super(`Refused: ${username} is a directory user; ${what} is managed in the directory (only disable, enable and sign-out apply here)`);
  }
}

/** Users by id, bounded: `afterId` is the last id of the previous page. */
export async function listUsers(sql: SqlClient, limit: number, afterId: number | null): Promise<UserSummary[]> {
  const rows = await sql.query<UserRow>(
    `/* users.list */ SELECT ${COLUMNS} FROM users WHERE ($1::int IS NULL OR id > $1) ORDER BY id LIMIT $2`,
    [afterId, limit],
  );
  return rows.map(summary);
}

/** By id, or by name as sign-in matches it (any case: `lower(username)` is unique). */
export async function findUser(sql: SqlClient, idOrName: number | string): Promise<UserSummary | null> {
  const [row] =
    typeof idOrName === 'number'
      ? await sql.query<UserRow>(`/* users.find */ SELECT ${COLUMNS} FROM users WHERE id = $1`, [idOrName])
      : await sql.query<UserRow>(`/* users.find_by_name */ SELECT ${COLUMNS} FROM users WHERE lower(username) = $1`, [normaliseUsername(idOrName)]);
  return row === undefined ? null : summary(row);
}

/**
 * A new local user who must change the (one-time) password at first sign-in, stored under the
 * normalised name; any spelling of an existing name (`Alice` when `alice` exists, or an older
 * `Admin`) is taken, through the unique index on `lower(username)`.
 */
export async function insertLocalUser(sql: SqlClient, username: string, role: Role, passwordHash: string): Promise<UserSummary> {
  const [row] = await sql.query<UserRow>(
    `/* users.create */ INSERT INTO users (username, password_hash, role, source, must_change_password, password_changed_at)
     VALUES ($1, $2, $3, 'local', true, now()) ON CONFLICT ((lower(username))) DO NOTHING RETURNING ${COLUMNS}`,
    [normaliseUsername(username), passwordHash, role],
  );
  if (row === undefined) throw new ValidationFailedException([{ path: 'username', message: 'is already taken' }], 'A user with this username exists');
  return summary(row);
}

/**
 * Locks every enabled local admin, then the target (always in this order, so two concurrent
 * changes cannot deadlock): a concurrent demotion of the other admin waits here and then sees the
 * outcome of this one, so "at least one enabled local admin" holds under concurrency too.
 */
async function lockTarget(sql: SqlClient, userId: number): Promise<{ target: UserSummary; enabledAdmins: number[] }> {
  const admins = await sql.query<{ id: number }>(`/* users.lock_admins */ SELECT id FROM users WHERE role = 'admin' AND source = 'local' AND NOT disabled ORDER BY id FOR UPDATE`);
  const [row] = await sql.query<UserRow>(`/* users.lock */ SELECT ${COLUMNS} FROM users WHERE id = $1 FOR UPDATE`, [userId]);
  if (row === undefined) throw new NotFoundException(`No user with id ${userId}`);
  return { target: summary(row), enabledAdmins: admins.map((a) => a.id) };
}

/** `enabledAdmins` holds local admins only, so a directory target is never the last one. */
function isLastEnabledAdmin(target: UserSummary, enabledAdmins: number[]): boolean {
  return enabledAdmins.length <= 1 && enabledAdmins.includes(target.id);
}

export interface UserChange {
  before: UserSummary;
  after: UserSummary;
}

export async function setRole(sql: SqlClient, userId: number, role: Role): Promise<UserChange> {
  const { target, enabledAdmins } = await lockTarget(sql, userId);
  if (target.source === 'ldap') throw new DirectoryUserException(target.username, 'the role');
  if (role !== 'admin' && isLastEnabledAdmin(target, enabledAdmins)) throw new LastAdminException(target.username);
  const [row] = await sql.query<UserRow>(`/* users.set_role */ UPDATE users SET role = $2, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`, [userId, role]);
  return { before: target, after: summary(row!) };
}

export async function setDisabled(sql: SqlClient, userId: number, disabled: boolean): Promise<UserChange> {
  const { target, enabledAdmins } = await lockTarget(sql, userId);
  if (disabled && isLastEnabledAdmin(target, enabledAdmins)) throw new LastAdminException(target.username);
  const [row] = await sql.query<UserRow>(`/* users.set_disabled */ UPDATE users SET disabled = $2, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`, [
    userId,
    disabled,
  ]);
  return { before: target, after: summary(row!) };
}

/** A new one-time password: the old one is kept as the previous one, and the user must change it. */
export async function resetPassword(sql: SqlClient, userId: number, passwordHash: string): Promise<UserChange> {
  const { target } = await lockTarget(sql, userId);
  if (target.source === 'ldap') throw new DirectoryUserException(target.username, 'the password');
  const [row] = await sql.query<UserRow>(
    `/* users.reset_password */ UPDATE users SET previous_password_hash = password_hash, password_hash = $2, must_change_password = true,
       password_changed_at = now(), updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`,
    [userId, passwordHash],
  );
  return { before: target, after: summary(row!) };
}
