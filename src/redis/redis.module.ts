import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RampartConfig } from '../config/rampart-config.js';
import { fullJitterDelayMs } from '../core/backoff.js';
import { ROOT_LOGGER } from '../observability/observability.tokens.js';
import { ShutdownRegistry } from '../resilience/shutdown-registry.service.js';
import { watchLiveness } from './redis-liveness.js';
import { REDIS_CLIENT } from './redis.tokens.js';

/** First reconnect within 100 ms, later ones at most a second apart (jittered per worker). */
const RECONNECT_BASE_MS = 100;
/**
 * Low on purpose: a healthy Redis is found within a second of answering again, which keeps
 * recovery from a partition within REDIS_SOCKET_TIMEOUT_MS + 1 s. A refused connect costs
 * Redis nothing, and the watchdog bounds every attempt that hangs.
 */
const RECONNECT_MAX_MS = 1000;

async function createRedis(config: ConfigService<RampartConfig, true>, registry: ShutdownRegistry, logger: Logger): Promise<Redis | null> {
  const { url, socketTimeoutMs, heartbeatMs } = config.get('redis', { infer: true });
  if (!url) return null;
  const client = new Redis(url, {
    connectionName: 'rampart',
    // Fail a command quickly while disconnected instead of queueing it behind a dead link:
    // sessions must answer SESSION_STORE_UNAVAILABLE, not hang.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2000,
    commandTimeout: 2000,
    // ioredis counts attempts from 1; never gives up (a number, never null).
    retryStrategy: (attempt) => fullJitterDelayMs(attempt - 1, RECONNECT_BASE_MS, RECONNECT_MAX_MS),
    lazyConnect: true,
    // A request issues several commands (session read, idle-timeout slide, rate-limit script);
    // commands from concurrent requests in one tick share one write instead of one each.
    enableAutoPipelining: true,
  });
  let lastState = 'connecting';
  // For the client's whole life, failed connects and destroyed sockets included: an
  // EventEmitter 'error' without a listener would end the process.
  client.on('error', (error: Error) => {
    if (lastState !== 'error') logger.warn({ err: error }, 'redis connection error; retrying');
    lastState = 'error';
  });
  client.on('ready', () => {
    if (lastState === 'error') logger.info('redis connection restored');
    lastState = 'ready';
  });
  // Before the first connect, so a start against a black hole is bounded too.
  const liveness = watchLiveness(client, { heartbeatMs, timeoutMs: socketTimeoutMs });
  logger.info({ redis: url }, 'connecting to Redis');
  try {
    // Startup failures are fatal: a worker that cannot reach its session store must not serve.
    await client.connect();
  } catch (error) {
    liveness.stop();
    client.disconnect();
    throw error;
  }
  registry.register({
    name: 'redis',
    phase: 'redis',
    close: async () => {
      liveness.stop();
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
