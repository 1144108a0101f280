import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RampartConfig } from '../config/rampart-config.js';
import { ROOT_LOGGER } from '../observability/observability.tokens.js';
import { ShutdownRegistry } from '../resilience/shutdown-registry.service.js';
import { REDIS_CLIENT } from './redis.tokens.js';

async function createRedis(config: ConfigService<RampartConfig, true>, registry: ShutdownRegistry, logger: Logger): Promise<Redis | null> {
  const { url } = config.get('redis', { infer: true });
  if (!url) return null;
  const client = new Redis(url, {
    connectionName: 'rampart',
    // Fail a command quickly while disconnected instead of queueing it behind a dead link:
    // sessions must answer SESSION_STORE_UNAVAILABLE, not hang.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2000,
    commandTimeout: 2000,
    retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 5000),
    lazyConnect: true,
    // A request issues several commands (session read, idle-timeout slide, rate-limit script);
    // commands from concurrent requests in one tick share one write instead of one each.
    enableAutoPipelining: true,
  });
  let lastState = 'connecting';
  client.on('error', (error: Error) => {
    if (lastState !== 'error') logger.warn({ err: error }, 'redis connection error; retrying');
    lastState = 'error';
  });
  client.on('ready', () => {
    if (lastState === 'error') logger.info('redis connection restored');
    lastState = 'ready';
  });
  logger.info({ redis: url }, 'connecting to Redis');
  // Startup failures are fatal: a worker that cannot reach its session store must not serve.
  await client.connect();
  registry.register({
    name: 'redis',
    phase: 'redis',
    close: async () => {
      await client.quit().catch(() => client.disconnect());
    },
  });
  return client;
}

@Global()
@Module({
  providers: [
    { provide: REDIS_CLIENT, inject: [ConfigService, ShutdownRegistry, ROOT_LOGGER], useFactory: createRedis },
  ],
  exports: [REDIS_CLIENT],
})
export class RedisModule {}
