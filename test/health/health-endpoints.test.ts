import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbUnavailableException } from '../../src/core/errors/index.js';
import { type BreakerService, MAIN_DB_BREAKER } from '../../src/resilience/breaker.service.js';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { startOwnRedis, type OwnRedis } from '../support/redis.js';
import { getHealth, HEALTH_PATHS, leakedStrings, waitFor } from './health.helpers.js';

const SESSION_SECRET = `health-${randomBytes(24).toString('base64url')}`;

describe('health endpoints', () => {
  let redis: OwnRedis;
  let app: TestApp;
  let forbidden: string[];

  beforeAll(async () => {
    redis = await startOwnRedis();
    app = await startTestApp({
      REDIS_URL: redis.url,
      SESSION_SECRET,
      BREAKER_MIN_VOLUME: '5',
      // Long enough that the breaker is still open when the test reads it.
      BREAKER_OPEN_MS: '60000',
      SHUTDOWN_DRAIN_DELAY_MS: '1000',
    });
    forbidden = ['127.0.0.1', 'localhost', 'postgres', app.db.name, redis.url, `:${redis.port}`, SESSION_SECRET, TEST_ADMIN.password];
  });
  afterAll(async () => {
    await app?.stop();
    await redis?.stop();
  });

  it('answers all four paths with the Terminus shape, no session cookie and no caching', async () => {
    const responses = await Promise.all(HEALTH_PATHS.map((path) => getHealth(app.url, path)));
    for (const [i, response] of responses.entries()) {
      const path = HEALTH_PATHS[i];
      expect(response.status, path).toBe(200);
      expect(response.body.status, path).toBe('ok');
      expect(Object.keys(response.body).slice(0, 4), path).toEqual(['status', 'info', 'error', 'details']);
      expect(response.setCookie, path).toEqual([]);
      expect(response.cacheControl, path).toContain('no-store');
    }
    const [live, ready, summary, deep] = responses.map((r) => r.body);
    expect(Object.keys(live?.details ?? {})).toEqual(['eventLoop']);
    expect(ready?.details).toMatchObject({ lifecycle: { status: 'up' }, database: { status: 'up' }, redis: { status: 'up' } });
    expect(ready).not.toHaveProperty('resilience');
    expect(summary?.resilience).toMatchObject({
      thresholds: { poolSaturationThrottle: 0.8, poolSaturationRecover: 1, breakerFailureRate: 0.5, eventLoopLagMs: 200, restartChurnMax: 3, restartChurnWindowS: 600 },
      breaker: { state: 'closed', failureRate: 0, retryAfterMs: null },
      recommendation: 'observe',
      policy: { state: 'allowed', cooldownRemainingS: 0, restartsInWindow: 0 },
    });
    expect(Object.keys(summary?.resilience?.pool ?? {})).toEqual(['size', 'inUse', 'idle', 'waiting', 'saturation']);
    expect(deep?.details).toMatchObject({
      database: { status: 'up' },
      redis: { status: 'up', responseTime: expect.any(Number) },
      breaker: { status: 'up', state: 'closed' },
      mainPool: { status: 'up', max: expect.any(Number), saturation: expect.any(Number) },
      healthPool: { status: 'up', max: 2 },
      eventLoop: { status: 'up', lagMs: expect.any(Number) },
      worker: { status: 'up', pid: process.pid },
    });
    expect(leakedStrings(responses.map((r) => r.body), forbidden)).toEqual([]);
  });

  it('turns readiness 503 within 5 s of Redis stopping while liveness stays 200, and recovers when it is back', async () => {
    await redis.stop();
    const stoppedAt = Date.now();
    const failed = await waitFor(
      'readiness to fail',
      async () => {
        const ready = await getHealth(app.url, '/health/ready');
        return ready.status === 503 ? ready : undefined;
      },
      5000,
    );
    expect(Date.now() - stoppedAt).toBeLessThanOrEqual(5000);
    expect(failed.body.status).toBe('error');
    expect(failed.body.error).toMatchObject({ redis: { status: 'down' } });
    expect(failed.body.details).toMatchObject({ database: { status: 'up' } });

    const all = await Promise.all(HEALTH_PATHS.map((path) => getHealth(app.url, path)));
    expect(all.map((r) => r.status)).toEqual([200, 503, 503, 503]);
    expect(leakedStrings([failed.body, ...all.map((r) => r.body)], forbidden)).toEqual([]);

    await redis.start();
    const recovered = await waitFor(
      'readiness to recover',
      async () => {
        const ready = await getHealth(app.url, '/health/ready');
        return ready.status === 200 ? ready : undefined;
      },
      15_000,
    );
    expect(recovered.body.status).toBe('ok');
  });

  it('reports an open breaker as degraded with 200 on /health and /health/deep, never failing liveness or readiness', async () => {
    const breaker = app.app.get<BreakerService>(MAIN_DB_BREAKER);
    // BREAKER_MIN_VOLUME=5 failures at most; fewer trip it when earlier successes are in the window.
    for (let i = 0; i < 5 && breaker.snapshot().state !== 'open'; i += 1) {
      await expect(breaker.execute(() => Promise.reject(new DbUnavailableException(1000)))).rejects.toBeInstanceOf(DbUnavailableException);
    }
    expect(breaker.snapshot().state).toBe('open');

    const [live, ready, summary, deep] = await Promise.all(HEALTH_PATHS.map((path) => getHealth(app.url, path)));
    expect(live?.status).toBe(200);
    expect(ready?.status).toBe(200);
    expect(ready?.body.status).toBe('ok');
    expect(summary?.status).toBe(200);
    expect(summary?.body.status).toBe('degraded');
    expect(summary?.body.resilience).toMatchObject({ breaker: { state: 'open' }, recommendation: 'recover' });
    expect(summary?.body.resilience?.breaker.retryAfterMs).toBeGreaterThan(0);
    expect(deep?.status).toBe(200);
    expect(deep?.body.status).toBe('degraded');
    expect(deep?.body.details).toMatchObject({ breaker: { status: 'degraded', state: 'open' } });
  });

  // Last: it shuts the app down.
  it('answers readiness shutting_down from the first moment of shutdown while liveness stays 200', async () => {
    const shutdown = app.registry.shutdown('health test');
    expect(app.registry.draining).toBe(true);
    const [ready, live, summary] = await Promise.all(['/health/ready', '/health/live', '/health'].map((path) => getHealth(app.url, path)));
    // Still inside the 1 s drain delay, when load balancers are meant to notice.
    expect(app.registry.state).toBe('draining');
    expect(ready?.status).toBe(503);
    expect(ready?.body.status).toBe('shutting_down');
    expect(ready?.body.error).toMatchObject({ lifecycle: { status: 'down' } });
    expect(live?.status).toBe(200);
    expect(live?.body.status).toBe('ok');
    expect(summary?.status).toBe(503);
    expect(summary?.body.status).toBe('shutting_down');
    expect(summary?.body).toHaveProperty('resilience');
    const report = await shutdown;
    expect(report.hooks.find((hook) => hook.name === 'health-datasource')).toMatchObject({ phase: 'health-db', outcome: 'ok' });
  });
});
