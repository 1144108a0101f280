import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Response } from 'express';
import pg from 'pg';
import type { Logger } from 'pino';
import type { RampartConfig } from '../config/rampart-config.js';
import { AppException, ErrorCode } from '../core/errors/index.js';
import { ROOT_LOGGER } from '../observability/observability.tokens.js';
import { ShutdownRegistry } from '../resilience/shutdown-registry.service.js';
import { RUNTIME, type Runtime } from '../runtime.js';

export const EVENTS_CHANNEL = 'rampart_events';
/** What browsers wait before reconnecting after we end a stream on shutdown. */
export const SSE_RETRY_MS = 3000;

interface Subscriber {
  res: Response;
  heartbeat: NodeJS.Timeout;
}

/**
 * The realtime sync: one dedicated LISTEN connection per worker (`rampart:listen`) fanned out
 * to a bounded set of Server-Sent-Event subscribers. The connection reconnects with capped
 * backoff when the database drops; subscribers stay connected meanwhile.
 */
@Injectable()
export class RealtimeService implements OnApplicationBootstrap {
  private client: pg.Client | null = null;
  private readonly subscribers = new Set<Subscriber>();
  private reconnectTimer: NodeJS.Timeout | null = null;
  private attempt = 0;
  private closed = false;
  private nextId = 1;
  private readonly maxSubscribers: number;
  private readonly heartbeatMs: number;

  constructor(
    @Inject(RUNTIME) private readonly runtime: Runtime,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
    private readonly registry: ShutdownRegistry,
    config: ConfigService<RampartConfig, true>,
  ) {
    const sse = config.get('resilience', { infer: true }).sse;
    this.maxSubscribers = sse.maxSubscribers;
    this.heartbeatMs = sse.heartbeatMs;
  }

  async onApplicationBootstrap(): Promise<void> {
    // Streams end first, with a retry hint, the moment shutdown begins; the connection closes in its phase.
    this.registry.onDrainStart(() => this.endAll());
    this.registry.register({ name: 'realtime-listen', phase: 'realtime', close: () => this.close() });
    await this.connect();
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  get connected(): boolean {
    return this.client !== null;
  }

  subscribe(res: Response): void {
    if (this.registry.draining) throw new AppException(ErrorCode.SHUTTING_DOWN, 'The server is shutting down', { retryable: true, retryAfterMs: SSE_RETRY_MS });
    if (this.subscribers.size >= this.maxSubscribers) {
      // A capacity limit, not a shutdown: the contract's retryable "limit hit" code.
      throw new AppException(ErrorCode.RATE_LIMITED, 'Too many live subscribers on this worker; retry shortly', {
        retryable: true,
        retryAfterMs: SSE_RETRY_MS,
      });
    }
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write(`retry: ${SSE_RETRY_MS}\n: connected\n\n`);
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), this.heartbeatMs);
    heartbeat.unref();
    const subscriber: Subscriber = { res, heartbeat };
    this.subscribers.add(subscriber);
    res.on('close', () => {
      clearInterval(heartbeat);
      this.subscribers.delete(subscriber);
    });
  }

  private broadcast(payload: string): void {
    let data: string;
    try {
      // Compact, validated JSON without nulls: PostgreSQL's json text has spaces and a frame
      // must not carry a newline.
      const parsed = JSON.parse(payload) as Record<string, unknown>;
      data = JSON.stringify(Object.fromEntries(Object.entries(parsed).filter(([, v]) => v !== null)));
    } catch {
      this.logger.warn({ channel: EVENTS_CHANNEL }, 'ignored a notification that is not JSON');
      return;
    }
    const frame = `id: ${this.nextId++}\nevent: change\ndata: ${data}\n\n`;
    for (const { res } of this.subscribers) res.write(frame);
  }

  private endAll(): void {
    for (const subscriber of this.subscribers) {
      clearInterval(subscriber.heartbeat);
      subscriber.res.end(`retry: ${SSE_RETRY_MS}\nevent: shutdown\ndata: {"reason":"shutting_down"}\n\n`);
    }
    this.subscribers.clear();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({
      connectionString: this.runtime.databaseUrl,
      application_name: 'rampart:listen',
      connectionTimeoutMillis: this.runtime.config.database.connectTimeoutMs,
      keepAlive: true,
    });
    client.on('notification', (message) => {
      if (message.channel === EVENTS_CHANNEL && message.payload) this.broadcast(message.payload);
    });
    client.on('error', (error) => this.onLost(client, error));
    client.on('end', () => this.onLost(client, null));
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
      if (this.attempt > 0) this.logger.info({ attempts: this.attempt }, 'realtime sync reconnected');
      this.attempt = 0;
      this.client = client;
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      this.onLost(client, error);
    }
  }

  private onLost(client: pg.Client, error: unknown): void {
    if (this.closed || this.reconnectTimer) return;
    if (this.client === client) this.client = null;
    client.removeAllListeners();
    client.on('error', () => undefined);
    this.attempt += 1;
    const delay = Math.min(30_000, 250 * 2 ** Math.min(this.attempt, 7)) * (0.5 + Math.random() * 0.5);
    if (this.attempt === 1 || this.attempt % 10 === 0) {
      this.logger.warn({ err: error ?? undefined, attempt: this.attempt, retryInMs: Math.round(delay) }, 'realtime sync lost its database connection; reconnecting');
    }
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }

  private async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.endAll();
    const client = this.client;
    this.client = null;
    if (client) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
    }
  }
}
