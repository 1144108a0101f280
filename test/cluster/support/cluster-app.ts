import type { TestDatabase } from '../../support/database.js';
import type { AppProcess } from '../../support/process.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../../support/redis.js';

/** The environment of a spawned two-worker cluster on the test's database and a fresh Redis prefix. */
export function clusterEnv(db: TestDatabase, adminPassword: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    WORKERS: '2',
    DATABASE_URL: db.url,
    REDIS_URL: SHARED_REDIS_URL,
    REDIS_KEY_PREFIX: uniquePrefix(),
    ADMIN_BOOTSTRAP_PASSWORD: adminPassword,
    SEED_LOTS: '20',
    WORKER_READY_TIMEOUT_MS: '15000',
    RATE_LIMIT_ACCOUNT_PER_MIN: '1000000',
    RATE_LIMIT_LOGIN_PER_MIN: '1000',
    LOG_LEVEL: 'info',
    ...extra,
  };
}

/** SIGTERM, then after 15 s SIGKILL to its process group (when it leads one) or to it alone. */
export async function stopCluster(proc: AppProcess | null | undefined): Promise<void> {
  if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.kill('SIGTERM');
  const exited = await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 15_000))]);
  if (exited) return;
  try {
    process.kill(-proc.pid, 'SIGKILL');
  } catch {
    proc.kill('SIGKILL');
  }
}
