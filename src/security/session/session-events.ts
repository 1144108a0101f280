import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisConfig } from '../../config/rampart-config.js';
import { createRedisClient } from '../../redis/redis-client.js';

/** Why a session ended, as a live stream tells its browser in its final `event: end`. */
export type SessionEndReason = 'logged_out' | 'revoked' | 'expired' | 'disabled';

export type SessionEvent =
  /** One session ended (logout). */
  | { kind: 'session'; sessionId: string; reason: SessionEndReason }
  /** Every session of a user ended (revocation). */
  | { kind: 'user'; userId: number; reason: SessionEndReason };

type Listener = (event: SessionEvent) => void;

const REASONS: ReadonlySet<string> = new Set<SessionEndReason>(['logged_out', 'revoked', 'expired', 'disabled']);

/**
 * Tells whoever holds something bound to a session (live streams) that it ended, on every
 * worker and replica: delivered in this process at once, and published on Redis
 * (`<prefix>session-events`) for the others when REDIS_URL is set. Best effort by design: a
 * message lost while the subscriber connection is down only delays the end until the
 * holder's own periodic re-check of the session (SSE_SESSION_CHECK_MS).
 */
export class SessionEvents {
  private readonly listeners = new Set<Listener>();
  /** Marks this process's own messages, which it has already delivered locally. */
  private readonly origin = randomBytes(8).toString('hex');
  private subscriber: { client: Redis; stopWatching(): void } | null = null;

  constructor(
    private readonly redis: Redis | null,
    private readonly channel: string,
    private readonly logger: Logger,
  ) {}

  /** Subscribes to the other instances' messages (no-op without Redis). Never fails the start. */
  start(settings: Pick<RedisConfig, 'url' | 'socketTimeoutMs' | 'heartbeatMs'>): void {
    if (this.redis === null || settings.url === null || this.subscriber !== null) return;
    // A connection of its own: a subscribed connection can issue no other command.
    const subscriber = createRedisClient(settings.url, settings, this.logger);
    this.subscriber = subscriber;
    const { client } = subscriber;
    client.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.receive(message);
    });
    // On every (re)connection: a first connect that failed left nothing to resubscribe.
    client.on('ready', () => {
      client.subscribe(this.channel).catch((error: unknown) => this.logger.warn({ err: error }, 'session events: subscribe failed; retrying on reconnect'));
    });
    client.connect().catch((error: unknown) => this.logger.warn({ err: error }, 'session events: subscriber not connected yet; retrying'));
  }

  async stop(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = null;
    if (subscriber === null) return;
    subscriber.stopWatching();
    await subscriber.client.quit().catch(() => subscriber.client.disconnect());
  }

  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(event: SessionEvent): void {
    this.deliver(event);
    if (this.redis === null) return;
    this.redis.publish(this.channel, JSON.stringify({ ...event, origin: this.origin })).catch((error: unknown) => {
      this.logger.warn({ err: error, event }, 'session event not published; other instances notice at their next session check');
    });
  }

  private receive(message: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      return;
    }
    const event = asEvent(parsed);
    if (event === null || (parsed as { origin?: unknown }).origin === this.origin) return;
    this.deliver(event);
  }

  private deliver(event: SessionEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error({ err: error }, 'session event listener failed');
      }
    }
  }
}

function asEvent(value: unknown): SessionEvent | null {
  if (value === null || typeof value !== 'object') return null;
  const { kind, sessionId, userId, reason } = value as Record<string, unknown>;
  if (typeof reason !== 'string' || !REASONS.has(reason)) return null;
  const why = reason as SessionEndReason;
  if (kind === 'session' && typeof sessionId === 'string') return { kind, sessionId, reason: why };
  if (kind === 'user' && typeof userId === 'number') return { kind, userId, reason: why };
  return null;
}
