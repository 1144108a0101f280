import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { BreakerService, MAIN_DB_BREAKER } from '../resilience/breaker.service.js';
import { PoolManager } from './pool-manager.js';

/**
 * The only way request handling reaches PostgreSQL: through the shared breaker, then the
 * pool. An open breaker fails fast before a connection is even asked for.
 */
@Injectable()
export class DatabaseService {
  constructor(
    private readonly pool: PoolManager,
    @Inject(MAIN_DB_BREAKER) private readonly breaker: BreakerService,
  ) {}

  run<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.breaker.execute(() => this.pool.withConnection((manager) => work(manager)));
  }

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.breaker.execute(() =>
      this.pool.withConnection(async (_manager, runner) => {
        await runner.startTransaction();
        try {
          const result = await work(runner.manager);
          await runner.commitTransaction();
          return result;
        } catch (error) {
          if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
          throw error;
        }
      }),
    );
  }
}
