import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The machine's PostgreSQL; CI has the same (trust auth on 127.0.0.1:5432). */
export const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  name: string;
  url: string;
  /** A one-off query against the test database on its own connection. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A fresh database per test file, dropped (with its connections) afterwards. */
export async function createTestDatabase(prefix = 'rampart_test'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(ADMIN_URL, name);
  return {
    name,
    url,
    async query<T>(sql: string, params: unknown[] = []) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query(sql, params)).rows as T[];
      } finally {
        await client.end();
      }
    },
    async drop() {
      const client = new pg.Client({ connectionString: ADMIN_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** Connections of one role (`rampart:main`, `rampart:health`…) to one database, as PostgreSQL sees them. */
export async function countConnections(database: string, applicationName: string): Promise<number> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = $2',
      [database, applicationName],
    );
    return rows[0]?.n ?? 0;
  } finally {
    await client.end();
  }
}

export interface HeldLock {
  release(): Promise<void>;
}

/**
 * Takes ACCESS EXCLUSIVE locks on `tables` in an open transaction on a connection of the
 * test's own, so every query touching them waits: a stalled database, as the app sees it.
 * `release` is idempotent.
 */
export async function lockTables(url: string, tables: string[]): Promise<HeldLock> {
  const client = new pg.Client({ connectionString: url, application_name: 'test:locker' });
  await client.connect();
  await client.query('BEGIN');
  await client.query(`LOCK TABLE ${tables.join(', ')} IN ACCESS EXCLUSIVE MODE`);
  let released: Promise<void> | null = null;
  return {
    release() {
      released ??= client
        .query('ROLLBACK')
        .catch(() => undefined)
        .then(() => client.end());
      return released;
    },
  };
}
