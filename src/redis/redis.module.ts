import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RampartConfig } from '../config/rampart-config.js';
import { ROOT_LOGGER } from '../observability/observability.tokens.js';
import { ShutdownRegistry } from '../resilience/shutdown-registry.service.js';
import { createRedisClient } from './redis-client.js';
import { REDIS_CLIENT } from './redis.tokens.js';

async function createRedis(config: ConfigService<RampartConfig, true>, registry: ShutdownRegistry, logger: Logger): Promise<Redis | null> {
  const { url, socketTimeoutMs, heartbeatMs } = config.get('redis', { infer: true });
  if (!url) return null;
  const { client, stopWatching } = createRedisClient(url, { socketTimeoutMs, heartbeatMs }, logger);
  logger.info({ redis: url }, 'connecting to Redis');
  try {
    // Startup failures are fatal: a worker that cannot reach its session store must not serve.
    await client.connect();
  } catch (error) {
    stopWatching();
    client.disconnect();
    throw error;
  }
  registry.register({
    name: 'redis',
    phase: 'redis',
    close: async () => {
      stopWatching();
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
