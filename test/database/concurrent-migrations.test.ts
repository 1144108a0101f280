import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMigrations } from '../../src/database/migrate.js';
import { MIGRATIONS } from '../../src/database/migrations/index.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

/**
 * Workers and replicas start together and race for the migration lock. A waiter blocked inside
 * `pg_advisory_lock` holds a virtual transaction, which the holder's CREATE INDEX CONCURRENTLY
 * (the keyset index migration) waits for: a deadlock PostgreSQL cannot see, since the cycle
 * passes through the application. Three runners on an empty database must all finish.
 */
describe('migrations started by several processes at once', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('rampart_migrate_race');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('applies every migration exactly once and lets every runner finish', async () => {
    const run = () => runMigrations({ url: db.url, connectTimeoutMs: 5000, keepAliveIdleMs: 10_000, logger: pino({ level: 'silent' }) });
    const deadlocked = new Promise<'deadlocked'>((resolve) => setTimeout(() => resolve('deadlocked'), 20_000).unref());
    const outcome = await Promise.race([Promise.all([run(), run(), run()]), deadlocked]);
    expect(outcome).not.toBe('deadlocked');
    const applied = (outcome as string[][]).flat();
    expect(applied.sort()).toEqual(MIGRATIONS.map((migration) => migration.name).sort());
  }, 30_000);
});
