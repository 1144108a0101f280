import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { Logger } from 'pino';
import { PasswordHasher } from '../../auth/password-hasher.js';
import { seedDemoData } from './seeder.js';

export interface FirstStartOptions {
  seedLots: number;
  adminUsername: string;
  adminPassword: string | null;
  isProduction: boolean;
  /** Printed next to the credentials so the operator knows where to sign in. */
  url: string;
  logger: Logger;
}

/** Thrown when production has no admin and nothing to create one from. */
export class BootstrapAdminError extends Error {}

/**
 * Runs under the migration lock: demo data when the database has no lots yet (never in
 * production), and the bootstrap admin while no admin exists.
 */
export async function firstStart(dataSource: DataSource, options: FirstStartOptions): Promise<void> {
  const { logger } = options;
  if (!options.isProduction) {
    const [{ count }] = (await dataSource.query('SELECT count(*)::int AS count FROM lots')) as { count: number }[];
    if (count === 0 && options.seedLots > 0) {
      const started = Date.now();
      const result = await dataSource.transaction((manager) => seedDemoData(manager, options.seedLots));
      logger.info({ ...result, ms: Date.now() - started }, 'demo data seeded (first start)');
    }
  }
  const [{ admins }] = (await dataSource.query(
    `SELECT count(*)::int AS admins FROM users WHERE role = 'admin' AND NOT disabled`,
  )) as { admins: number }[];
  if (admins > 0) return;
  if (options.isProduction && !options.adminPassword) {
    throw new BootstrapAdminError('ADMIN_BOOTSTRAP_PASSWORD is required in production until an admin exists');
  }
  const generated = options.adminPassword === null;
  const password = options.adminPassword ?? randomBytes(15).toString('base64url');
  const hash = await new PasswordHasher().hash(password);
  // A generated password has been in the log: it is a one-time password, changed at first sign-in.
  // Any spelling of the name is the same user (unique lower(username)): an older `Admin` row is reused.
  await dataSource.query(
    `INSERT INTO users (username, password_hash, role, must_change_password) VALUES ($1, $2, 'admin', $3)
     ON CONFLICT ((lower(username))) DO UPDATE SET role = 'admin', disabled = false, password_hash = EXCLUDED.password_hash,
       must_change_password = EXCLUDED.must_change_password, updated_at = now()`,
    [options.adminUsername, hash, generated],
  );
  if (generated) {
    // Shown exactly once, at creation; it is not stored anywhere but as a hash.
    logger.warn(
      { url: options.url, username: options.adminUsername, initialAdminPassword: password },
      `bootstrap admin created: sign in at ${options.url}/login as ${options.adminUsername} with the initialAdminPassword of this line; it is a one-time password, changed at first sign-in`,
    );
  } else {
    logger.info({ url: options.url, username: options.adminUsername }, 'bootstrap admin created from ADMIN_BOOTSTRAP_PASSWORD');
  }
}
