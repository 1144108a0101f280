import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMigrations } from '../../src/database/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const migrate = (db: TestDatabase) => runMigrations({ url: db.url, connectTimeoutMs: 5000, keepAliveIdleMs: 10_000, logger: pino({ level: 'silent' }) });
const indexes = async (db: TestDatabase) =>
  (await db.query<{ indexname: string; indexdef: string }>(`SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'users' AND indexdef LIKE '%lower(username)%'`)).map(
    (i) => `${i.indexname}: ${i.indexdef.includes('UNIQUE') ? 'unique' : 'plain'}`,
  );

// Review 16 finding 5: usernames differing only in case both answered to either spelling.
describe('migration 1764700000000: usernames unique regardless of case', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('rampart_username_test');
    await migrate(db);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('replaces the plain lower(username) index with a unique one', async () => {
    expect(await indexes(db)).toEqual(['users_lower_username_key: unique']);
    await db.query(`INSERT INTO users (username, password_hash, role) VALUES ('carol', '!x', 'viewer')`);
    await expect(db.query(`INSERT INTO users (username, password_hash, role) VALUES ('Carol', '!x', 'viewer')`)).rejects.toThrow(/users_lower_username_key/);
  });

  it('on a database with names differing only in case, stops naming them and the RUNBOOK section, changing nothing; runs once they are renamed', async () => {
    // The database as it was before this migration, with a clash in it.
    await db.query('DROP INDEX users_lower_username_key');
    await db.query('CREATE INDEX users_lower_username_idx ON users (lower(username))');
    await db.query(`DELETE FROM migrations WHERE name = 'UsernameUniqueLower1764700000000'`);
    const [{ id }] = await db.query<{ id: number }>(`INSERT INTO users (username, password_hash, role) VALUES ('Carol', '!x', 'admin') RETURNING id`);

    const failure = await migrate(db).then(
      () => null,
      (error: Error) => error.message,
    );
    expect(failure).toMatch(/differ only in case: "carol": carol \(id \d+, local\), Carol \(id \d+, local\)/);
    expect(failure).toMatch(/RUNBOOK "Usernames that differ only in case"/);
    expect(await indexes(db)).toEqual(['users_lower_username_idx: plain']);

    await db.query(`UPDATE users SET username = 'carol-old' WHERE id = $1`, [id]);
    expect(await migrate(db)).toEqual(['UsernameUniqueLower1764700000000']);
    expect(await indexes(db)).toEqual(['users_lower_username_key: unique']);
  });
});
