import type { Pool } from 'pg';
import { DataSource, type EntityManager, type QueryRunner } from 'typeorm';
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

/**
 * Owns the request-path connection pool: its limits come from config here, and nowhere
 * else opens connections for request handling.
 */
export abstract class PoolManager {
  abstract readonly dataSource: DataSource;
  abstract stats(): PoolStats;
  /** Runs `work` on one checked-out connection; driver failures come back as typed exceptions. */
  abstract withConnection<T>(work: (manager: EntityManager, runner: QueryRunner) => Promise<T>): Promise<T>;
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

  async withConnection<T>(work: (manager: EntityManager, runner: QueryRunner) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.connect();
      return await work(runner.manager, runner);
    } catch (error) {
      throw mapDbError(error, this.context());
    } finally {
      await runner.release().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }

  private context() {
    return { poolTimeoutMs: this.config.poolTimeoutMs, queryTimeoutMs: this.config.queryTimeoutMs };
  }
}
