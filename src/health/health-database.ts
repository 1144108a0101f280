import pg from 'pg';
import type { Logger } from 'pino';
import { connectionFailed, guardedClientClass, keepAliveOptions } from '../database/pg-client.js';

/**
 * A failed probe whose message is safe to publish. Driver messages can name hosts, ports,
 * users and databases ("connect ECONNREFUSED 10.0.0.5:5432", 'role "x" does not exist'),
 * so health payloads only ever carry one of these fixed texts.
 */
export class HealthProbeError extends Error {
  override readonly name = 'HealthProbeError';
}

export const PROBE_MESSAGES = {
  dbTimeout: 'database ping timed out',
  dbConnectTimeout: 'database connection timed out',
  dbUnreachable: 'database unreachable',
  dbClosed: 'health datasource closed',
} as const;

/**
 * Reads a row of a tiny table rather than `SELECT 1`: it proves the database serves our
 * schema, not merely that a backend answers, and it makes health pings visible per table in
 * `pg_stat_user_tables` (and blockable by a lock, which is how the stall test works). The
 * comment names the query in `pg_stat_activity`.
 */
export const HEALTH_PING_SQL = 'SELECT 1 FROM migrations LIMIT 1 /* rampart:health-ping */';

export const HEALTH_APPLICATION_NAME = 'rampart:health';
const HEALTH_POOL_MAX = 2;

export interface HealthDbTimeouts {
  /** Waiting for a pooled connection or opening a new one. */
  connectMs: number;
  /** Server-side: PostgreSQL cancels the ping itself, so its backend is free again. */
  statementMs: number;
  /** Client-side backstop for a server that cannot even deliver the cancellation. */
  queryMs: number;
}

/**
 * Splits HEALTH_DB_TIMEOUT_MS so that the server gives up first, the driver second and
 * Terminus' own bound last: a stalled ping is cancelled where it holds resources before
 * anyone walks away from it.
 */
export function healthDbTimeouts(totalMs: number): HealthDbTimeouts {
  return {
    connectMs: Math.max(1, Math.floor(totalMs * 0.5)),
    statementMs: Math.max(1, Math.floor(totalMs * 0.6)),
    queryMs: Math.max(1, Math.floor(totalMs * 0.8)),
  };
}

export interface HealthPoolStats {
  max: number;
  open: number;
  inUse: number;
  idle: number;
  waiting: number;
}

/**
 * The health checks' own way into PostgreSQL, separate from the request pool so probes
 * answer while that pool is exhausted.
 */
export abstract class HealthDatabase {
  /** Pings that reached the pool since start; memoised answers do not count. */
  abstract readonly pings: number;
  /**
   * Resolves when PostgreSQL answered; otherwise rejects with a HealthProbeError. `counted`
   * false: not a health check (the breaker's recovery probe) and not in `pings`.
   */
  abstract ping(signal?: AbortSignal, counted?: boolean): Promise<void>;
  abstract stats(): HealthPoolStats;
  abstract close(): Promise<void>;
}

export class PgHealthDatabase extends HealthDatabase {
  private readonly pool: pg.Pool;
  private pingCount = 0;
  private closed = false;

  constructor(
    url: string,
    readonly timeouts: HealthDbTimeouts,
    private readonly logger: Logger,
    keepAliveIdleMs: number,
  ) {
    super();
    this.pool = new pg.Pool({
      connectionString: url,
      application_name: HEALTH_APPLICATION_NAME,
      max: HEALTH_POOL_MAX,
      connectionTimeoutMillis: timeouts.connectMs,
      statement_timeout: timeouts.statementMs,
      query_timeout: timeouts.queryMs,
      // Probes come every few seconds; keeping one connection spares each a new backend.
      min: 1,
      idleTimeoutMillis: 60_000,
      ...keepAliveOptions(keepAliveIdleMs),
      // A link failing under a ping must not crash the process either; the ping fails instead.
      Client: guardedClientClass((error) => this.logger.debug({ err: error }, 'health connection failed')),
    });
    // An idle connection dropped by the server must not crash the process; the next ping
    // simply opens a new one.
    this.pool.on('error', (error) => this.logger.debug({ err: error }, 'idle health connection failed'));
  }

  get pings(): number {
    return this.pingCount;
  }

  async ping(signal?: AbortSignal, counted = true): Promise<void> {
    if (this.closed) throw new HealthProbeError(PROBE_MESSAGES.dbClosed);
    if (counted) this.pingCount += 1;
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw this.probeError(error, 'connect');
    }

    let released = false;
    // Anything but a clean answer destroys the connection: a timed-out or aborted ping may
    // still be running on it, and returning it would hand the stall to the next probe.
    const release = (destroy: boolean) => {
      if (released) return;
      released = true;
      client.release(destroy || connectionFailed(client));
    };
    const onAbort = () => release(true);

    if (signal?.aborted) {
      // Given up while waiting for the pool: nothing ran on this connection, so it is clean.
      release(false);
      throw new HealthProbeError(PROBE_MESSAGES.dbTimeout);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await client.query(HEALTH_PING_SQL);
      release(false);
    } catch (error) {
      release(true);
      throw signal?.aborted ? new HealthProbeError(PROBE_MESSAGES.dbTimeout) : this.probeError(error, 'query');
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  stats(): HealthPoolStats {
    const open = this.pool.totalCount;
    const idle = this.pool.idleCount;
    return { max: HEALTH_POOL_MAX, open, inUse: Math.max(0, open - idle), idle, waiting: this.pool.waitingCount };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private probeError(error: unknown, stage: 'connect' | 'query'): HealthProbeError {
    const code = (error as { code?: unknown } | null)?.code;
    const message = error instanceof Error ? error.message : '';
    // The original stays in the (redacted) log for operators; the payload gets fixed text.
    this.logger.debug({ err: error, stage }, 'health ping failed');
    if (stage === 'connect' && (message === 'timeout exceeded when trying to connect' || message.includes('connection timeout'))) {
      return new HealthProbeError(PROBE_MESSAGES.dbConnectTimeout);
    }
    // 57014: query_canceled, which is what statement_timeout raises.
    if (code === '57014' || message === 'Query read timeout') return new HealthProbeError(PROBE_MESSAGES.dbTimeout);
    return new HealthProbeError(PROBE_MESSAGES.dbUnreachable);
  }
}
