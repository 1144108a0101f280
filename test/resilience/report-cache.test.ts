import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReportCacheUpdater } from '../../src/domain/reports/report-cache.updater.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../support/redis.js';

const INTERVAL_MS = 400;

describe('report cache updater', () => {
  let first: TestApp;
  let second: TestApp;

  beforeAll(async () => {
    const env = { REDIS_URL: SHARED_REDIS_URL, REDIS_KEY_PREFIX: uniquePrefix(), REPORT_CACHE_REFRESH_MS: String(INTERVAL_MS) };
    first = await startTestApp(env);
    second = await startTestApp(env, { db: first.db });
  });
  afterAll(async () => {
    await second?.stop();
    await first?.stop();
  });

  it('runs once per interval across two instances sharing Redis', async () => {
    const a = first.app.get(ReportCacheUpdater);
    const b = second.app.get(ReportCacheUpdater);
    const startRuns = a.runs + b.runs;
    const windows = 8;
    await new Promise((r) => setTimeout(r, INTERVAL_MS * windows));
    const runs = a.runs + b.runs - startRuns;
    // One run per interval, give or take the run in flight at either edge.
    expect(runs).toBeGreaterThanOrEqual(windows - 2);
    expect(runs).toBeLessThanOrEqual(windows + 1);
  });

  it('stops with the shutdown registry and runs no more', async () => {
    const updater = first.app.get(ReportCacheUpdater);
    await updater.stop();
    const runs = updater.runs;
    await new Promise((r) => setTimeout(r, INTERVAL_MS * 3));
    expect(updater.runs).toBe(runs);
  });
});
