import type { MigrationInterface, QueryRunner } from 'typeorm';

/** How many clashing names the error lists; the RUNBOOK query finds every one. */
const SHOWN_CLASHES = 20;

/**
 * Usernames are one name whatever their case: sign-in already matches `lower(username)`, so two
 * rows differing only in case both answered to either spelling and the newer one could take over
 * the other's sign-in (a bootstrap `Admin` shadowed by a later `admin`). A UNIQUE index on
 * `lower(username)` makes the database refuse the second spelling; it replaces the plain lookup
 * index of 1764520000000, which it also serves.
 *
 * Existing clashes cannot be merged automatically (which row keeps the name is the operator's
 * call), so the migration stops with the clashing names and the RUNBOOK section that says what
 * to do, before it changes anything.
 */
export class UsernameUniqueLower1764700000000 implements MigrationInterface {
  name = 'UsernameUniqueLower1764700000000';

  async up(q: QueryRunner): Promise<void> {
    const clashes = (await q.query(
      `SELECT lower(username) AS name, string_agg(format('%s (id %s, %s%s)', username, id, source, CASE WHEN disabled THEN ', disabled' ELSE '' END), ', ' ORDER BY id) AS rows
       FROM users GROUP BY lower(username) HAVING count(*) > 1 ORDER BY 1 LIMIT ${SHOWN_CLASHES + 1}`,
    )) as { name: string; rows: string }[];
    if (clashes.length > 0) {
      const listed = clashes.slice(0, SHOWN_CLASHES).map((c) => `"${c.name}": ${c.rows}`).join('; ');
      const more = clashes.length > SHOWN_CLASHES ? `; and more` : '';
      throw new Error(
        `usernames must be unique regardless of case, and these differ only in case: ${listed}${more}. ` +
          'Rename (or delete) all but one row of each, then start again: RUNBOOK "Usernames that differ only in case"',
      );
    }
    await q.query('CREATE UNIQUE INDEX IF NOT EXISTS users_lower_username_key ON users (lower(username))');
    await q.query('DROP INDEX IF EXISTS users_lower_username_idx');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('CREATE INDEX IF NOT EXISTS users_lower_username_idx ON users (lower(username))');
    await q.query('DROP INDEX IF EXISTS users_lower_username_key');
  }
}
