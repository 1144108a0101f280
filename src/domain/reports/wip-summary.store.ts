import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Redis } from 'ioredis';
import type { RampartConfig } from '../../config/rampart-config.js';
import { REDIS_CLIENT } from '../../redis/redis.tokens.js';
import type { WipSummaryDto } from './reports.dto.js';

/**
 * Where the last good wip-summary lives: Redis when configured, so the one updater across
 * workers and replicas feeds every one of them; this process otherwise.
 */
@Injectable()
export class WipSummaryStore {
  private local: WipSummaryDto | null = null;
  private readonly key: string;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis | null,
    config: ConfigService<RampartConfig, true>,
  ) {
    this.key = `${config.get('redis', { infer: true }).keyPrefix}report:wip-summary`;
  }

  /**
   * The last good summary. A copy this process holds that is younger than `freshForMs` is
   * answered without asking Redis: the hot path of the report is then one memory read.
   */
  async get(freshForMs = 0): Promise<WipSummaryDto | null> {
    if (!this.redis) return this.local;
    if (this.local && Date.now() - Date.parse(this.local.asOf) < freshForMs) return this.local;
    try {
      const raw = await this.redis.get(this.key);
      if (raw) this.local = JSON.parse(raw) as WipSummaryDto;
    } catch {
      // Redis blinking must not take the report down: the copy in memory is as good as it gets.
    }
    return this.local;
  }

  async set(value: WipSummaryDto): Promise<void> {
    this.local = value;
    if (this.redis) await this.redis.set(this.key, JSON.stringify(value), 'EX', 24 * 3600).catch(() => undefined);
  }
}
