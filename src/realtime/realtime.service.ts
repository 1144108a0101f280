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
import type { AuthenticatedUser } from '../auth/auth.decorators.js';
import { AccountStatus, sessionMismatch } from '../security/session/account-status.js';
import { RampartSessionStore } from '../security/session/rampart-session.store.js';
import { type SessionEndReason, type SessionEvent, SessionEvents } from '../security/session/session-events.js';
import { endReasonOf, SessionRevocation } from '../security/session/session-revocation.js';
import { SessionStoreUnavailableException } from '../security/session/session-store-unavailable.exception.js';
import { StreamSlots } from './stream-slots.js';

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
  /** The session the stream belongs to, and its user: the stream ends when the session does. */
  sessionId: string;
  user: AuthenticatedUser;
  /** Its slot among the user's SSE_MAX_PER_USER (StreamSlots). */
  slot: string;
}

/** The stream's owner, as the session middleware established it. */
export interface StreamOwner {
  sessionId: string;
  user: AuthenticatedUser;
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
 *
 * Each stream belongs to its session: it ends with `event: end` and the reason the moment the
 * session is logged out or its user's sessions are revoked (SessionEvents, across workers and
 * replicas), and within SSE_SESSION_CHECK_MS when the session expires, is deleted or its user
 * changes (a periodic re-read). That re-read does not slide the idle timeout: an open stream
 * is not activity, so a tab left open does not keep a session alive. One user holds at most
 * SSE_MAX_PER_USER streams across all workers and replicas (StreamSlots), so no single user can
 * take every one of a worker's SSE_MAX_SUBSCRIBERS.
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
  private readonly maxPerUser: number;
  private readonly sessionCheckMs: number;
  private sessionCheck: NodeJS.Timeout | null = null;
  private checking = false;
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
    private readonly sessions: RampartSessionStore,
    private readonly accounts: AccountStatus,
    private readonly revocation: SessionRevocation,
    events: SessionEvents,
    private readonly slots: StreamSlots,
  ) {
    const resilience = config.get('resilience', { infer: true });
    this.maxSubscribers = resilience.sse.maxSubscribers;
    this.heartbeatMs = resilience.sse.heartbeatMs;
    this.maxPerUser = resilience.sse.maxPerUser;
    this.sessionCheckMs = resilience.sse.sessionCheckMs;
    this.probe = resilience.realtimeProbe;
    events.on((event) => this.onSessionEvent(event));
  }

  async onApplicationBootstrap(): Promise<void> {
    // Streams end first, with a retry hint, the moment shutdown begins; the connection closes in its phase.
    this.registry.onDrainStart(() => this.endAll());
    this.sessionCheck = setInterval(() => {
      this.renewSlots();
      void this.checkSessions();
    }, this.sessionCheckMs);
    this.sessionCheck.unref();
    this.registry.register({ name: 'realtime-listen', phase: 'realtime', close: () => this.close() });
    await this.connect();
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  get connected(): boolean {
    return this.link !== null;
  }

  async subscribe(res: Response, owner: StreamOwner): Promise<void> {
    this.refuseWhenFull();
    const slot = randomBytes(12).toString('base64url');
    let acquired: boolean;
    try {
      acquired = await this.slots.acquire(owner.user.id, slot, this.maxPerUser);
    } catch (error) {
      throw new SessionStoreUnavailableException(error);
    }
    if (!acquired) {
      throw new AppException(ErrorCode.RATE_LIMITED, `At most ${this.maxPerUser} live streams per user; close one or retry shortly`, {
        retryable: true,
        retryAfterMs: SSE_RETRY_MS,
      });
    }
    try {
      // Shutdown may have begun, or the worker filled up, while the slot was being taken.
      this.refuseWhenFull();
    } catch (error) {
      this.releaseSlot(owner.user.id, slot);
      throw error;
    }
    if (res.destroyed) {
      // The client left meanwhile.
      this.releaseSlot(owner.user.id, slot);
      return;
    }
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store, no-transform');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write(`retry: ${SSE_RETRY_MS}\n: connected\n\n`);
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), this.heartbeatMs);
    heartbeat.unref();
    const subscriber: Subscriber = { res, heartbeat, sessionId: owner.sessionId, user: owner.user, slot };
    this.subscribers.add(subscriber);
    res.on('close', () => this.remove(subscriber));
  }

  private refuseWhenFull(): void {
    if (this.registry.draining) throw new AppException(ErrorCode.SHUTTING_DOWN, 'The server is shutting down', { retryable: true, retryAfterMs: SSE_RETRY_MS });
    if (this.subscribers.size >= this.maxSubscribers) {
      // A capacity limit, not a shutdown: the contract's retryable "limit hit" code.
      throw new AppException(ErrorCode.RATE_LIMITED, 'Too many live subscribers on this worker; retry shortly', {
        retryable: true,
        retryAfterMs: SSE_RETRY_MS,
      });
    }
  }

  private releaseSlot(userId: number, slot: string): void {
    // Best effort: a slot that is not released expires with its lease.
    this.slots.release(userId, slot).catch((error: unknown) => this.logger.debug({ err: error }, 'live stream slot not released; it expires'));
  }

  /** Keeps the slots of open streams from expiring (their leases outlast a few rounds). */
  private renewSlots(): void {
    const byUser = new Map<number, string[]>();
    for (const { user, slot } of this.subscribers) byUser.set(user.id, [...(byUser.get(user.id) ?? []), slot]);
    for (const [userId, slots] of byUser) {
      this.slots.renew(userId, slots).catch((error: unknown) => this.logger.debug({ err: error }, 'live stream slots not renewed; retrying next round'));
    }
  }

  /** Forgets a stream (once: ended here, or closed by the client). */
  private remove(subscriber: Subscriber): boolean {
    clearInterval(subscriber.heartbeat);
    if (!this.subscribers.delete(subscriber)) return false;
    this.releaseSlot(subscriber.user.id, subscriber.slot);
    return true;
  }

  /** Ends a stream because its session ended, telling the browser why. */
  private endForSession(subscriber: Subscriber, reason: SessionEndReason): void {
    if (!this.remove(subscriber)) return;
    subscriber.res.end(`event: end\ndata: ${JSON.stringify({ reason })}\n\n`);
  }

  private onSessionEvent(event: SessionEvent): void {
    for (const subscriber of this.subscribers) {
      const match = event.kind === 'session' ? subscriber.sessionId === event.sessionId : subscriber.user.id === event.userId;
      if (match) this.endForSession(subscriber, event.reason);
    }
  }

  /**
   * Re-reads the session of every stream, and its user's row, without touching either: ends
   * the streams of sessions that expired or were deleted by any means (no message needed),
   * and revokes the sessions of a user who was disabled or changed (as a request would).
   * A store or database outage ends nothing; the next round tries again.
   */
  private async checkSessions(): Promise<void> {
    if (this.checking || this.subscribers.size === 0) return;
    this.checking = true;
    try {
      const bySession = new Map<string, Subscriber[]>();
      for (const subscriber of this.subscribers) {
        const list = bySession.get(subscriber.sessionId) ?? [];
        list.push(subscriber);
        bySession.set(subscriber.sessionId, list);
      }
      await Promise.all([...bySession].map(([sessionId, streams]) => this.checkSession(sessionId, streams)));
    } finally {
      this.checking = false;
    }
  }

  private async checkSession(sessionId: string, streams: Subscriber[]): Promise<void> {
    try {
      const data = await this.sessions.load(sessionId);
      if (data === null || data.user === undefined) {
        for (const stream of streams) this.endForSession(stream, 'expired');
        return;
      }
      const userId = data.user.id;
      if (sessionMismatch(data, await this.accounts.current(userId)) === null) return;
      const cause = sessionMismatch(data, await this.accounts.current(userId, 0));
      if (cause === null) return;
      await this.revocation.revokeUser(userId, cause);
      for (const stream of streams) this.endForSession(stream, endReasonOf(cause));
    } catch (error) {
      this.logger.debug({ err: error }, 'live stream session check failed; retrying next round');
    }
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
    for (const subscriber of [...this.subscribers]) {
      this.remove(subscriber);
      subscriber.res.end(`retry: ${SSE_RETRY_MS}\nevent: shutdown\ndata: {"reason":"shutting_down"}\n\n`);
    }
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
    if (this.sessionCheck) clearInterval(this.sessionCheck);
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
