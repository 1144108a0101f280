import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisConfig } from '../config/rampart-config.js';
import { fullJitterDelayMs } from '../core/backoff.js';
import { watchLiveness } from './redis-liveness.js';

/** First reconnect within 100 ms, later ones at most a second apart (jittered per worker). */
const RECONNECT_BASE_MS = 100;
/**
 * Low on purpose: a healthy Redis is found within a second of answering again, which keeps
 * recovery from a partition within REDIS_SOCKET_TIMEOUT_MS + 1 s. A refused connect costs
 * Redis nothing, and the watchdog bounds every attempt that hangs.
 */
const RECONNECT_MAX_MS = 1000;

export interface RampartRedis {
  /** Not connected yet (`lazyConnect`): the caller decides whether a failed first connect is fatal. */
  client: Redis;
  /** Ends the liveness watchdog; the caller quits or disconnects the client. */
  stopWatching(): void;
}

/**
 * Rampart's Redis connection: fails fast instead of queueing, never re-sends a command whose
 * connection died, reconnects with jittered backoff for ever, has its `error` handled for its
 * whole life, and replaces a connection that stops answering (see watchLiveness).
 */
export function createRedisClient(url: string, settings: Pick<RedisConfig, 'socketTimeoutMs' | 'heartbeatMs'>, logger: Logger): RampartRedis {
  const client = new Redis(url, {
    connectionName: 'rampart',
    // Fail a command quickly while disconnected instead of queueing it behind a dead link:
    // sessions must answer SESSION_STORE_UNAVAILABLE, not hang.
    enableOfflineQueue: false,
    // A command in flight when its connection dies fails at once and is never sent again on
    // the next one: Redis may already have run it, and a second run of a session's SET NX or a
    // rate-limit INCR is wrong. Its request answers SESSION_STORE_UNAVAILABLE (retryable).
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
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
  const liveness = watchLiveness(client, { heartbeatMs: settings.heartbeatMs, timeoutMs: settings.socketTimeoutMs });
  return { client, stopWatching: () => liveness.stop() };
}
