import { createTestDatabase, type TestDatabase } from '../../support/database.js';
import { spawnApp, type AppProcess } from '../../support/process.js';
import { FaultProxy } from './fault-proxy.js';

export interface ProxiedApp {
  db: TestDatabase;
  proxy: FaultProxy;
  app: AppProcess;
  /** Kills the app, closes the proxy and drops the database. */
  close(): Promise<void>;
}

/**
 * A fresh database reached only through a FaultProxy in front of the machine's PostgreSQL, and
 * the built app spawned against it (one process, test defaults, rate limits out of the way).
 * `env` adds to or overrides those defaults.
 */
export async function startProxiedApp(env: Record<string, string> = {}): Promise<ProxiedApp> {
  const db = await createTestDatabase('rampart_chaos');
  const proxy = await FaultProxy.start({ host: '127.0.0.1', port: 5432 });
  try {
    const app = await spawnApp({
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      DATABASE_URL: proxy.url(db.url),
      SEED_LOTS: '20',
      ADMIN_BOOTSTRAP_PASSWORD: 'chaos-admin-password-1',
      RATE_LIMIT_LOGIN_PER_MIN: '100000',
      RATE_LIMIT_ACCOUNT_PER_MIN: '100000',
      SHUTDOWN_DRAIN_DELAY_MS: '0',
      ...env,
    });
    return {
      db,
      proxy,
      app,
      async close() {
        app.kill('SIGKILL');
        await proxy.close();
        await db.drop();
      },
    };
  } catch (error) {
    await proxy.close();
    await db.drop();
    throw error;
  }
}
