import 'reflect-metadata';
import { startApp, type RunningApp } from '../../src/bootstrap.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { LogCapture } from './logs.js';

export interface TestApp extends RunningApp {
  db: TestDatabase;
  logs: LogCapture;
  /** Closes the app and drops its database. */
  stop(): Promise<void>;
}

/**
 * The real app, listening on an ephemeral 127.0.0.1 port, on its own fresh database.
 * `env` overrides the test defaults (no Redis unless REDIS_URL is given).
 */
export async function startTestApp(
  env: Record<string, string | undefined> = {},
  options: { db?: TestDatabase; logDestination?: import('pino').DestinationStream } = {},
): Promise<TestApp> {
  const db = options.db ?? (await createTestDatabase());
  const logs = new LogCapture();
  try {
    const running = await startApp({
      env: {
        NODE_ENV: 'test',
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'info',
        DATABASE_URL: db.url,
        SEED_LOTS: '50',
        ADMIN_BOOTSTRAP_PASSWORD: 'test-admin-password-1',
        SHUTDOWN_DRAIN_DELAY_MS: '0',
        ...env,
      },
      logDestination: options.logDestination ?? logs,
    });
    return {
      ...running,
      db,
      logs,
      async stop() {
        await running.close('test finished');
        if (!options.db) await db.drop();
      },
    };
  } catch (error) {
    if (!options.db) await db.drop();
    throw error;
  }
}

export const TEST_ADMIN = { username: 'admin', password: 'test-admin-password-1' };
