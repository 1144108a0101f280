import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import type { Response } from 'express';
import pg from 'pg';
import type { Logger } from 'pino';
// A leaf module of pure functions: the project's one backoff implementation.
import { fullJitterDelayMs } from '../core/backoff.js';
import type { RampartConfig } from '../config/rampart-config.js';
import { AppException, ErrorCode } from '../core/errors/index.js';
import { keepAliveOptions } from '../database/pg-client.js';
import { ROOT_LOGGER } from '../observability/observability.tokens.js';
import { ShutdownRegistry } from '../resilience/shutdown-registry.service.js';
import { RUNTIME, type Runtime } from '../runtime.js';

export const EVENTS_CHANNEL = 'rampart_events';
/** What browsers wait before reconnecting after we end a stream on shutdown. */
export const SSE_RETRY_MS = 3000;
export const LISTEN_APPLICATION_NAME = 'rampart:listen';

const RECONNECT_MIN_MS = 100;
const RECONNECT_BASE_MS = 250;
const RECONNECT_MAX_MS = 1000;
/** How long a shutdown waits for the database to acknowledge the listen connection's end. */
const GOODBYE_MS = 1000;

interface Subscriber {
  res: Response;
  heartbeat: NodeJS.Timeout;
}

/** One LISTEN connection and its liveness probe; `dead` once given up, never revived. */
interface ListenLink {
  client: pg.Client;
  socket: Socket;
  dead: boolean;
  probe: { nonce: string; timer: NodeJS.Timeout } | null;
  probeTimer: NodeJS.Timeout | null;
}

/**
 * The realtime sync: one dedicated LISTEN connection per worker (`rampart:listen`) fanned out
 * to a bounded set of Server-Sent-Event subscribers. The connection proves itself every
 * REALTIME_PROBE_INTERVAL_MS and is replaced (capped backoff, at most a second apart) when the
 * database drops it or stops answering; subscribers stay connected meanwhile.
 */
@Injectable()
export class RealtimeService implements OnApplicationBootstrap {
  /** The LISTENing connection, null while (re)connecting. */
  private link: ListenLink | null = null;
  private connecting: ListenLink | null = null;
  /** Private to this worker's connection: other workers never hear (or answer) its probes. */
  private readonly probeChannel = `rampart_probe_${randomBytes(8).toString('hex')}`;
  private probeSequence = 0;
  private readonly probe: { intervalMs: number; timeoutMs: number };
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
    const resilience = config.get('resilience', { infer: true });
    this.maxSubscribers = resilience.sse.maxSubscribers;
    this.heartbeatMs = resilience.sse.heartbeatMs;
    this.probe = resilience.realtimeProbe;
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
    return this.link !== null;
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
    // Our own socket, so a connection to a vanished peer can be destroyed for certain: a
    // graceful end would wait for an answer that never comes.
    const socket = new Socket();
    const client = new pg.Client({
      connectionString: this.runtime.databaseUrl,
      application_name: LISTEN_APPLICATION_NAME,
      ...keepAliveOptions(this.runtime.config.database.keepAliveIdleMs),
      stream: () => socket,
    });
    const link: ListenLink = { client, socket, dead: false, probe: null, probeTimer: null };
    client.on('notification', (message) => this.onNotification(link, message));
    client.on('error', (error) => this.onLost(link, error));
    client.on('end', () => this.onLost(link, null));
    this.connecting = link;
    // Connect, authenticate and LISTEN within one probe timeout (and DB_CONNECT_TIMEOUT_MS): a
    // database that accepts the TCP connection but never answers (a black hole) must not
    // stall reconnection.
    const boundMs = Math.min(this.probe.timeoutMs, this.runtime.config.database.connectTimeoutMs);
    const deadline = setTimeout(() => this.onLost(link, new Error(`listen connection not established within ${boundMs} ms`)), boundMs);
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
      await client.query(`LISTEN ${this.probeChannel}`);
    } catch (error) {
      this.onLost(link, error);
      return;
    } finally {
      clearTimeout(deadline);
      if (this.connecting === link) this.connecting = null;
    }
    if (link.dead) return;
    if (this.closed) {
      this.destroy(link);
      return;
    }
    if (this.attempt > 0) this.logger.info({ attempts: this.attempt }, 'realtime sync reconnected');
    this.attempt = 0;
    this.link = link;
    link.probeTimer = setInterval(() => this.sendProbe(link), this.probe.intervalMs);
    link.probeTimer.unref();
  }

  private onNotification(link: ListenLink, message: pg.Notification): void {
    if (message.channel === this.probeChannel) {
      if (link.probe && message.payload === link.probe.nonce) {
        clearTimeout(link.probe.timer);
        link.probe = null;
      }
      return;
    }
    if (message.channel === EVENTS_CHANNEL && message.payload) this.broadcast(message.payload);
  }

  /**
   * Proves the connection still delivers notifications: a NOTIFY on this connection's private
   * channel must come back within the probe timeout. TCP keepalive cannot tell, since a
   * middlebox (or a proxy) may keep answering for a peer that is long gone.
   */
  private sendProbe(link: ListenLink): void {
    if (link.dead || link.probe) return;
    const nonce = String(++this.probeSequence);
    const timer = setTimeout(
      () => this.onLost(link, new Error(`listen probe not answered within ${this.probe.timeoutMs} ms`)),
      this.probe.timeoutMs,
    );
    timer.unref();
    link.probe = { nonce, timer };
    link.client.query('SELECT pg_notify($1, $2)', [this.probeChannel, nonce]).catch((error: unknown) => this.onLost(link, error));
  }

  private onLost(link: ListenLink, error: unknown): void {
    if (link.dead) return;
    this.destroy(link);
    if (this.link === link) this.link = null;
    if (this.closed || this.reconnectTimer) return;
    this.attempt += 1;
    // Capped low on purpose: one connection attempt a second per worker costs the database
    // nothing, and the stream must be back within seconds of the database.
    const delay = Math.max(RECONNECT_MIN_MS, fullJitterDelayMs(this.attempt - 1, RECONNECT_BASE_MS, RECONNECT_MAX_MS));
    if (this.attempt === 1 || this.attempt % 10 === 0) {
      this.logger.warn({ err: error ?? undefined, attempt: this.attempt, retryInMs: delay }, 'realtime sync lost its database connection; reconnecting');
    }
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }

  /** Ends a link at once; its listeners stay (pg may still emit) but see it dead. */
  private destroy(link: ListenLink): void {
    link.dead = true;
    if (link.probeTimer) clearInterval(link.probeTimer);
    if (link.probe) clearTimeout(link.probe.timer);
    link.probe = null;
    link.socket.destroy();
  }

  private async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.endAll();
    if (this.connecting) this.destroy(this.connecting);
    const link = this.link;
    this.link = null;
    if (!link || link.dead) return;
    if (link.probeTimer) clearInterval(link.probeTimer);
    if (link.probe) clearTimeout(link.probe.timer);
    link.dead = true;
    // Polite goodbye when the database answers; the socket goes regardless after a moment.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      link.client.end().catch(() => undefined),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, GOODBYE_MS))),
    ]);
    clearTimeout(timer);
    link.socket.destroy();
  }
}
