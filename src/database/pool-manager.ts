import type { Pool, PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import type { DatabaseConfig } from '../config/rampart-config.js';
import { mapDbError } from './db-error.mapper.js';
import { ENTITIES } from './entities/index.js';

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

/**
 * Owns the request-path connection pool: its limits come from config here, and nowhere
 * else opens connections for request handling.
 */
export abstract class PoolManager {
  abstract readonly dataSource: DataSource;
  abstract stats(): PoolStats;
  /** Runs `work` on one checked-out connection; driver failures come back as typed exceptions. */
  abstract withConnection<T>(work: (sql: SqlClient) => Promise<T>): Promise<T>;
  abstract close(): Promise<void>;
}

export function mainDataSourceOptions(url: string, config: DatabaseConfig) {
  return {
    type: 'postgres' as const,
    url,
    entities: ENTITIES,
    synchronize: false,
    migrationsRun: false,
    logging: false,
    extra: {
      application_name: 'rampart:main',
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
      keepAlive: true,
    },
  };
}

export class PgPoolManager extends PoolManager {
  readonly dataSource: DataSource;

  constructor(
    url: string,
    private readonly config: DatabaseConfig,
  ) {
    super();
    this.dataSource = new DataSource(mainDataSourceOptions(url, config));
  }

  async initialize(): Promise<void> {
    try {
      await this.dataSource.initialize();
    } catch (error) {
      throw mapDbError(error, this.context());
    }
  }

  private get pool(): Pool | undefined {
    // TypeORM keeps the pg Pool as `master`; it is the only handle on live pool counters.
    return (this.dataSource.driver as unknown as { master?: Pool }).master;
  }

  stats(): PoolStats {
    const pool = this.pool;
    const max = this.config.poolSize + this.config.maxOverflow;
    const open = pool?.totalCount ?? 0;
    const idle = pool?.idleCount ?? 0;
    const inUse = Math.max(0, open - idle);
    return {
      max,
      size: this.config.poolSize,
      open,
      inUse,
      idle,
      waiting: pool?.waitingCount ?? 0,
      saturation: max === 0 ? 0 : Math.round((inUse / max) * 1000) / 1000,
    };
  }

  /**
   * The request path talks to TypeORM's own pg pool directly: the domain issues hand-written
   * SQL, and TypeORM's per-query runner machinery cost a quarter of the CPU of a database
   * route. TypeORM keeps the schema (entities, migrations) and the pool's lifecycle.
   */
  async withConnection<T>(work: (sql: SqlClient) => Promise<T>): Promise<T> {
    const pool = this.pool;
    if (!pool) throw mapDbError(new Error('Cannot use a pool after calling end on the pool'), this.context());
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw mapDbError(error, this.context());
    }
    let broken = false;
    try {
      return await work({
        query: async <R>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as R[],
      });
    } catch (error) {
      const mapped = mapDbError(error, this.context());
      // A connection that failed as infrastructure (reset, timed out) is not handed out again.
      broken = mapped !== error;
      throw mapped;
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }

  private context() {
    return { poolTimeoutMs: this.config.poolTimeoutMs, queryTimeoutMs: this.config.queryTimeoutMs };
  }
}
