import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sign-in looks users up by their normalised (lower-case) name, so a directory user typing
 * `Alice` and the row `alice` meet, and a local row written with capitals still signs in. An
 * index on that expression keeps the lookup a single index probe however many directory users
 * have signed in.
 */
export class UsernameLookup1764520000000 implements MigrationInterface {
  name = 'UsernameLookup1764520000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE INDEX IF NOT EXISTS users_lower_username_idx ON users (lower(username))');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX IF EXISTS users_lower_username_idx');
  }
}
