import type { ConfigService } from '@nestjs/config';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { RampartConfig } from '../../config/rampart-config.js';
import type { WipSummaryDto } from './reports.dto.js';
import { WipSummaryStore } from './wip-summary.store.js';

function storeWithFakeRedis() {
  const data = new Map<string, string>();
  let reads = 0;
  const redis = {
    get: async (key: string) => {
      reads += 1;
      return data.get(key) ?? null;
    },
    set: async (key: string, value: string) => {
      data.set(key, value);
      return 'OK';
    },
  } as unknown as Redis;
  const config = { get: () => ({ keyPrefix: 't:' }) } as unknown as ConfigService<RampartConfig, true>;
  return { store: new WipSummaryStore(redis, config), data, reads: () => reads };
}

const summary = (asOf: Date): WipSummaryDto => ({ asOf: asOf.toISOString(), stations: [] });

describe(WipSummaryStore.name, () => {
  it('answers from its own fresh copy without asking Redis', async () => {
    const { store, reads } = storeWithFakeRedis();
    await store.set(summary(new Date()));
    expect(await store.get(10_000)).not.toBeNull();
    expect(reads()).toBe(0);
  });

  it('reads Redis once its copy is older than the freshness window (another worker may have refreshed it)', async () => {
    const { store, data, reads } = storeWithFakeRedis();
    await store.set(summary(new Date(Date.now() - 60_000)));
    const newer = summary(new Date());
    data.set('t:report:wip-summary', JSON.stringify(newer));
    expect(await store.get(10_000)).toEqual(newer);
    expect(reads()).toBe(1);
  });
});
