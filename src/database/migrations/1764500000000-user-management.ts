import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Columns for directory sign-in and user management (issue 16). Directory users keep a
 * `password_hash` of '!directory', which is never a valid argon2 hash, so the local provider can
 * never accept them; `previous_password_hash` lets the password policy refuse the last password;
 * `must_change_password` holds a user who signed in with a one-time password to the password
 * change until it is done.
 */
export class UserManagement1764500000000 implements MigrationInterface {
  name = 'UserManagement1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE users
        ADD COLUMN source text NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'ldap')),
        ADD COLUMN directory_dn text,
        ADD COLUMN must_change_password boolean NOT NULL DEFAULT false,
        ADD COLUMN previous_password_hash text,
        ADD COLUMN password_changed_at timestamptz,
        ADD COLUMN last_login_at timestamptz,
        ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE users
        DROP COLUMN IF EXISTS source,
        DROP COLUMN IF EXISTS directory_dn,
        DROP COLUMN IF EXISTS must_change_password,
        DROP COLUMN IF EXISTS previous_password_hash,
        DROP COLUMN IF EXISTS password_changed_at,
        DROP COLUMN IF EXISTS last_login_at,
        DROP COLUMN IF EXISTS updated_at;
    `);
  }
}
