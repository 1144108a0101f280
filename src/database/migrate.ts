import { DataSource, type QueryRunner } from 'typeorm';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { ENTITIES } from './entities/index.js';
import { MIGRATIONS } from './migrations/index.js';
import { describeStartupError } from '../core/startup-error.js';
import { guardedClientClass, keepAliveOptions } from './pg-client.js';

/** Any 64-bit constant works; this one is "rampart" in ASCII so an operator can recognise it. */
export const MIGRATION_LOCK_KEY = '125780153516404';

export interface MigrateOptions {
  url: string;
  connectTimeoutMs: number;
  /** DB_KEEPALIVE_IDLE_MS: the lock connection may sit idle while a long migration runs. */
  keepAliveIdleMs: number;
  logger: Logger;
  /** Runs while the lock is still held, so first-start seeding cannot race either. */
  afterMigrations?: (dataSource: DataSource) => Promise<void>;
}

/** Says which step of startup met which database; the driver's error stays as the cause. */
export class DatabaseStartupError extends Error {
  override readonly name = 'DatabaseStartupError';
  constructor(message: string, cause: unknown) {
    super(message, { cause });
  }
}

/** host:port/database of a connection URL: what an operator needs, never the credentials. */
export function databaseTarget(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
  } catch {
    return 'DATABASE_URL';
  }
}

const MIGRATION_LOCK_POLL_MS = 100;

async function tryMigrationLock(runner: QueryRunner): Promise<boolean> {
  const [row] = (await runner.query('SELECT pg_try_advisory_lock($1::bigint) AS locked', [MIGRATION_LOCK_KEY])) as { locked: boolean }[];
  return row?.locked === true;
}

/**
 * Runs pending migrations holding a PostgreSQL advisory lock on a dedicated connection, so
 * several workers or replicas starting together apply each migration exactly once.
 */
export async function runMigrations(options: MigrateOptions): Promise<string[]> {
  const dataSource = new DataSource({
    type: 'postgres',
    url: options.url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    logging: false,
    extra: {
      application_name: 'rampart:migrate',
      max: 2,
      connectionTimeoutMillis: options.connectTimeoutMs,
      ...keepAliveOptions(options.keepAliveIdleMs),
      // A link failure then fails the migration (and startup, with its cause) instead of
      // throwing out of an event emitter.
      Client: guardedClientClass((error) => options.logger.warn({ err: error }, 'migration connection failed')),
    },
    // Idle connections of this pool; TypeORM's default handler would only reach its own logger.
    poolErrorHandler: (error: unknown) => options.logger.warn({ err: error }, 'idle migration connection failed'),
  });
  const target = databaseTarget(options.url);
  try {
    await dataSource.initialize();
  } catch (error) {
    throw new DatabaseStartupError(`cannot use PostgreSQL at ${target}: ${describeStartupError(error)}`, error);
  }
  const migrationFailed = (error: unknown): never => {
    throw new DatabaseStartupError(`migrations on PostgreSQL at ${target} failed: ${describeStartupError(error)}`, error);
  };
  const runner = dataSource.createQueryRunner();
  try {
    await runner.connect().catch(migrationFailed);
    const waited = Date.now();
    // Polled, not `pg_advisory_lock`: a session blocked in that statement holds a virtual
    // transaction, and a CREATE INDEX CONCURRENTLY run by the lock holder's migration waits for
    // every such transaction to end: an undetected deadlock between two starting workers.
    while (!(await tryMigrationLock(runner).catch(migrationFailed))) await sleep(MIGRATION_LOCK_POLL_MS);
    try {
      // The lock lives on `runner`'s session; migrations and seeding use the pool's second connection.
      const applied = await dataSource.runMigrations({ transaction: 'each' }).catch(migrationFailed);
      const names = applied.map((migration) => migration.name);
      if (names.length > 0) options.logger.info({ migrations: names, waitedForLockMs: Date.now() - waited }, 'migrations applied');
      if (options.afterMigrations) await options.afterMigrations(dataSource);
      return names;
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    }
  } finally {
    await runner.release().catch(() => undefined);
    await dataSource.destroy().catch(() => undefined);
  }
}
