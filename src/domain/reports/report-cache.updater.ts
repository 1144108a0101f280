import { randomBytes } from 'node:crypto';
import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RampartConfig } from '../../config/rampart-config.js';
import { AppException } from '../../core/errors/index.js';
import { ROOT_LOGGER } from '../../observability/observability.tokens.js';
import { REDIS_CLIENT } from '../../redis/redis.tokens.js';
import { ShutdownRegistry } from '../../resilience/shutdown-registry.service.js';
import { ReportsService } from './reports.service.js';

/**
 * Refreshes the wip-summary cache every REPORT_CACHE_REFRESH_MS (±5 % jitter so workers do
 * not wake together). With Redis, a lock that lives for one interval makes exactly one
 * worker or replica run per interval; the others read what it stored.
 */
@Injectable()
export class ReportCacheUpdater implements OnApplicationBootstrap {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private lastFailure: string | null = null;
  private readonly intervalMs: number;
  private readonly lockKey: string;
  /** Runs this instance actually performed (not skipped for the lock); read by tests and /admin. */
  runs = 0;

  constructor(
    private readonly reports: ReportsService,
    @Inject(REDIS_CLIENT) private readonly redis: Redis | null,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
    private readonly registry: ShutdownRegistry,
    config: ConfigService<RampartConfig, true>,
  ) {
    this.intervalMs = config.get('resilience', { infer: true }).reportCacheRefreshMs;
    this.lockKey = `${config.get('redis', { infer: true }).keyPrefix}lock:report-cache`;
  }

  onApplicationBootstrap(): void {
    this.registry.register({ name: 'report-cache-updater', phase: 'jobs', close: () => this.stop() });
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      // Single-flight: a run that outlasts the interval is not joined by a second one.
      this.running ??= this.tick().finally(() => {
        this.running = null;
      });
      this.schedule(this.intervalMs * (0.95 + Math.random() * 0.1));
    }, delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.redis && !(await this.acquire())) return;
    try {
      await this.reports.refreshWipSummary();
      this.runs += 1;
      if (this.lastFailure) this.logger.info('report cache updater recovered');
      this.lastFailure = null;
    } catch (error) {
      const code = error instanceof AppException ? error.code : 'INTERNAL';
      // One line per change of cause, not one per interval while the database is away.
      if (this.lastFailure !== code) this.logger.warn({ err: error, code }, 'report cache refresh failed; serving the last good value');
      this.lastFailure = code;
    }
  }

  private async acquire(): Promise<boolean> {
    try {
      const token = randomBytes(8).toString('hex');
      // Held for most of one interval and never released early: that is what spaces runs. It
      // expires before the earliest jittered tick (0.95), so the holder's own next tick can win.
      const ok = await this.redis!.set(this.lockKey, token, 'PX', Math.max(1, Math.floor(this.intervalMs * 0.85)), 'NX');
      return ok === 'OK';
    } catch {
      // Without Redis no one can coordinate; skipping keeps the database from a stampede of updaters.
      return false;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
