import { describe, expect, it } from 'vitest';
import type { DatabaseConfig } from '../config/rampart-config.js';
import { connectionFailed } from './pg-client.js';
import { MAIN_APPLICATION_NAME, mainPoolOptions } from './pool-manager.js';

const config: DatabaseConfig = {
  url: 'postgres://rampart@127.0.0.1:5432/rampart',
  poolSize: 10,
  maxOverflow: 5,
  poolTimeoutMs: 2000,
  idleTimeoutMs: 30_000,
  queryTimeoutMs: 5000,
  connectTimeoutMs: 5000,
  keepAliveIdleMs: 7000,
  slowQueryMs: 1000,
  connectionMaxLifetimeS: 1800,
  preparedStatements: true,
  embeddedPort: 0,
  seedLots: 0,
  adminUsername: 'admin',
  adminPassword: null,
};

describe(mainPoolOptions.name, () => {
  it('names the pool, bounds it, and turns TCP keepalive on with DB_KEEPALIVE_IDLE_MS', () => {
    const options = mainPoolOptions(config.url!, config, () => undefined);
    expect(options).toMatchObject({
      application_name: MAIN_APPLICATION_NAME,
      max: 15,
      min: 10,
      statement_timeout: 5000,
      query_timeout: 6000,
      idle_in_transaction_session_timeout: 10_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 7000,
    });
  });

  it('builds its connections from a client class that handles its own errors', () => {
    const seen: string[] = [];
    const { Client } = mainPoolOptions(config.url!, config, (error) => seen.push(error.message));
    const client = new Client!();
    expect(() => client.emit('error', new Error('read ECONNRESET'))).not.toThrow();
    expect(seen).toEqual(['read ECONNRESET']);
    expect(connectionFailed(client)).toBe(true);
  });
});
