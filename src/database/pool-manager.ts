import pg from 'pg';
import type { Logger } from 'pino';
import type { DatabaseConfig } from '../config/rampart-config.js';
import { DbPoolExhaustedException, DbUnavailableException } from '../core/errors/index.js';
import { requestContext } from '../observability/request-context.js';
import { routeTemplateOf } from '../observability/route-template.js';
import { preparedName } from './prepared-statement.js';
import { statementName } from './statement-name.js';
import { mapDbError } from './db-error.mapper.js';
import { connectionFailed, guardedClientClass, keepAliveOptions, type ConnectionErrorHandler } from './pg-client.js';

export interface PoolStats {
  /** Configured ceiling: DB_POOL_SIZE + DB_POOL_MAX_OVERFLOW. */
  max: number;
  /** Connections kept even when idle (DB_POOL_SIZE). */
  size: number;
  open: number;
  inUse: number;
  idle: number;
  waiting: number;
  /** inUse / max; 1.0 means every connection is busy. */
  saturation: number;
}

/** One checked-out connection, as request handling sees it: parameterised SQL, rows back. */
export interface SqlClient {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
}

/** What the pool reports as it works; the metrics exporter listens (the pool must not depend on Prometheus). */
export interface PoolObserver {
  /** How long a request waited for a connection; `timeout` is a DB_POOL_EXHAUSTED answer. */
  connectionWait(seconds: number, outcome: 'acquired' | 'timeout' | 'failed'): void;
  /** One statement on a request-pool connection, by its short name (statementName). */
  query(statement: string, seconds: number): void;
}

/**
 * Owns the request-path connection pool: its limits come from config here, and nowhere
 * else opens connections for request handling.
 */
export abstract class PoolManager {
  protected observers: PoolObserver[] = [];
  observe(observer: PoolObserver): void {
    this.observers.push(observer);
  }
  abstract stats(): PoolStats;
  /**
   * Runs `work` on one checked-out connection; driver failures come back as typed exceptions.
   * A connection whose link failed, or that failed as infrastructure (reset, timed out), is
   * discarded rather than handed out again.
   */
  abstract withConnection<T>(work: (sql: SqlClient) => Promise<T>): Promise<T>;
  abstract close(): Promise<void>;
}

export const MAIN_APPLICATION_NAME = 'rampart:main';

/** How long the server lets a transaction of ours sit idle before it ends the session. */
export function idleInTransactionTimeoutMs(queryTimeoutMs: number): number {
  return Math.max(2 * queryTimeoutMs, 5000);
}

export function mainPoolOptions(url: string, config: DatabaseConfig, onConnectionError: ConnectionErrorHandler): pg.PoolConfig {
  return {
    connectionString: url,
    application_name: MAIN_APPLICATION_NAME,
    max: config.poolSize + config.maxOverflow,
    // Connections above `min` are the overflow; pg-pool reaps those after the idle timeout.
    min: config.poolSize,
    idleTimeoutMillis: config.idleTimeoutMs,
    // pg-pool uses this both for waiting on a full pool and for opening a new connection.
    connectionTimeoutMillis: config.poolTimeoutMs,
    // Server-side so the query really stops; the client-side read bound is a backstop for a
    // server that cannot even answer the cancel.
    statement_timeout: config.queryTimeoutMs,
    query_timeout: config.queryTimeoutMs + 1000,
    // A transaction Rampart stopped talking to (its link vanished between two statements, the
    // COMMIT never arrived) would otherwise hold its locks, the Idempotency-Key's included,
    // until the server's TCP keepalive notices the dead peer: hours. Rampart's own transactions
    // never sit idle that long.
    idle_in_transaction_session_timeout: idleInTransactionTimeoutMs(config.queryTimeoutMs),
    // pg-pool closes a connection this old when it is next idle (at once if it already is), so a
    // rotated password or a failed-over primary reaches every connection. 0 = never.
    maxLifetimeSeconds: config.connectionMaxLifetimeS,
    ...keepAliveOptions(config.keepAliveIdleMs),
    Client: guardedClientClass(onConnectionError),
  };
}

/**
 * A named statement's rows. Through a pg `Query` rather than a `{ name, text, values }` config:
 * pg copies a config object descriptor by descriptor on every call (`cloneQueryConfig`, several
 * µs, a tenth of this layer's cost). The client still applies `query_timeout` to it.
 */
/** `invalid_sql_statement_name` (not prepared on this server connection), `duplicate_prepared_statement`. */
const PREPARED_LOST = new Set(['26000', '42P05']);

function named(client: pg.PoolClient, name: string, text: string, params: unknown[] | undefined): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const query = new pg.Query(text, params, (error, result) => (error ? reject(error) : resolve(result.rows)));
    // Not in pg's typings, but what a config's `name` becomes: the Parse is skipped once the connection has it.
    (query as pg.Query & { name?: string }).name = name;
    client.query(query);
  });
}

/**
 * The request path's own pg pool. The domain issues hand-written SQL: TypeORM's per-query
 * runner machinery cost a quarter of the CPU of a database route, and its pool is a private
 * field. TypeORM keeps the schema (entities, migrations) on its own short-lived connection.
 */
export class PgPoolManager extends PoolManager {
  private readonly pool: pg.Pool;
  private closed = false;
  /**
   * Orders connection successes and link failures. A connection last known fine before the
   * latest link failure sat idle while the link broke; after a silent outage (no FIN, no RST)
   * it is most likely dead too, and would hold its next request for the whole query timeout.
   */
  private sequence = 0;
  private lastLinkFailure = 0;
  private readonly lastFine = new WeakMap<pg.ClientBase, number>();

  /** DB_PREPARED_STATEMENTS, until a connection path shows it cannot keep them (see `stopPreparing`). */
  private preparedOn: boolean;

  constructor(
    url: string,
    private readonly config: DatabaseConfig,
    private readonly logger: Pick<Logger, 'warn' | 'debug'>,
  ) {
    super();
    this.preparedOn = config.preparedStatements;
    this.pool = new pg.Pool(
      mainPoolOptions(url, config, (error) =>
        // The request using the connection (if any) answers and logs the failure itself.
        this.logger.debug({ err: error }, 'request-pool connection failed; it will be discarded'),
      ),
    );
    // pg-pool has already removed an idle connection that failed; without this listener the
    // pool would rethrow the failure as an uncaught exception.
    this.pool.on('error', (error) => this.logger.warn({ err: error }, 'idle request-pool connection failed; discarded'));
    this.pool.on('connect', (client) => this.lastFine.set(client, ++this.sequence));
  }

  /**
   * A named statement the connection should hold was not there (or was there twice): a pooler
   * in transaction mode that does not track prepared statements sits in between (PgBouncer
   * before 1.21, or `max_prepared_statements = 0`), and each transaction may land on another
   * server connection. From now on every statement goes out unnamed, as DB_PREPARED_STATEMENTS=false
   * would send it; one warning says what to set so the next start does not find out this way.
   */
  private stopPreparing(name: string, error: pg.DatabaseError): void {
    if (!this.preparedOn) return;
    this.preparedOn = false;
    this.logger.warn(
      { statement: name, code: error.code, err: error },
      'prepared statements do not survive on this connection path (a pooler in transaction mode?); sending them unnamed from now on: set DB_PREPARED_STATEMENTS=false',
    );
  }

  /** Proves the database answers before the application starts serving. */
  async initialize(): Promise<void> {
    await this.withConnection((sql) => sql.query('SELECT 1'));
  }

  stats(): PoolStats {
    const max = this.config.poolSize + this.config.maxOverflow;
    const open = this.pool.totalCount;
    const idle = this.pool.idleCount;
    const inUse = Math.max(0, open - idle);
    return {
      max,
      size: this.config.poolSize,
      open,
      inUse,
      idle,
      waiting: this.pool.waitingCount,
      saturation: max === 0 ? 0 : Math.round((inUse / max) * 1000) / 1000,
    };
  }

  async withConnection<T>(work: (sql: SqlClient) => Promise<T>): Promise<T> {
    if (this.closed) throw mapDbError(new Error('Cannot use a pool after calling end on the pool'), this.context());
    const client = await this.checkout();
    let infrastructureFailure = false;
    let linkFailure = false;
    try {
      const result = await work({
        query: async <R>(text: string, params?: unknown[]) => {
          const started = performance.now();
          const name = this.preparedOn ? preparedName(text) : undefined;
          try {
            if (name === undefined) return (await client.query(text, params)).rows as R[];
            try {
              return (await named(client, name, text, params)) as R[];
            } catch (error) {
              if (!(error instanceof pg.DatabaseError) || !PREPARED_LOST.has(error.code ?? '')) throw error;
              this.stopPreparing(name, error);
              // Refused at Parse or Bind, before it ran: sending it again unnamed runs it once.
              return (await client.query(text, params)).rows as R[];
            }
          } finally {
            this.timed(text, performance.now() - started);
          }
        },
      });
      return result;
    } catch (error) {
      const mapped = mapDbError(error, this.context());
      infrastructureFailure = mapped !== error;
      // An error PostgreSQL sent (disk full, statement timeout) came over a working link.
      linkFailure = infrastructureFailure && !(error instanceof pg.DatabaseError);
      throw mapped;
    } finally {
      if (linkFailure || connectionFailed(client)) this.lastLinkFailure = ++this.sequence;
      // Passing an error makes pg-pool close the connection instead of pooling it.
      const discard = infrastructureFailure || connectionFailed(client);
      if (!discard) this.lastFine.set(client, ++this.sequence);
      client.release(discard ? new Error('connection discarded after a failure') : undefined);
    }
  }

  /** A connection that has not sat idle across a link failure (those are discarded on the way). */
  private async checkout(): Promise<pg.PoolClient> {
    const started = performance.now();
    for (let discarded = 0; ; discarded += 1) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (error) {
        const mapped = mapDbError(error, this.context());
        // Cannot even open a connection: the idle ones are no better off.
        if (mapped instanceof DbUnavailableException) this.lastLinkFailure = ++this.sequence;
        this.waited(started, mapped instanceof DbPoolExhaustedException ? 'timeout' : 'failed');
        throw mapped;
      }
      // Bounded by the pool's size: by then every idle connection has been replaced.
      if ((this.lastFine.get(client) ?? 0) > this.lastLinkFailure || discarded > this.config.poolSize + this.config.maxOverflow) {
        this.waited(started, 'acquired');
        return client;
      }
      client.release(new Error('idle across a link failure; discarded'));
    }
  }

  private waited(started: number, outcome: 'acquired' | 'timeout' | 'failed'): void {
    const seconds = (performance.now() - started) / 1000;
    for (const observer of this.observers) observer.connectionWait(seconds, outcome);
  }

  /** Per statement: the histogram, and one warn line when slower than DB_SLOW_QUERY_MS. */
  private timed(text: string, ms: number): void {
    const statement = statementName(text);
    for (const observer of this.observers) observer.query(statement, ms / 1000);
    if (this.config.slowQueryMs === 0 || ms < this.config.slowQueryMs) return;
    const context = requestContext.current();
    const request = context?.request as Parameters<typeof routeTemplateOf>[0] | undefined;
    this.logger.warn(
      {
        statement,
        durationMs: Math.round(ms),
        thresholdMs: this.config.slowQueryMs,
        ...(context ? { correlationId: context.correlationId } : {}),
        ...(request ? { route: routeTemplateOf(request) ?? 'unmatched' } : {}),
      },
      `slow query ${statement} ${Math.round(ms)} ms`,
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private context() {
    return { poolTimeoutMs: this.config.poolTimeoutMs, queryTimeoutMs: this.config.queryTimeoutMs };
  }
}
