import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { TerminusModule } from '@nestjs/terminus';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { RampartConfigModule } from '../config/config.module.js';
import { loadConfig } from '../config/env.js';
import { PoolManager, type PoolStats } from '../database/pool-manager.js';
import { ROOT_LOGGER } from '../observability/observability.tokens.js';
import { REDIS_CLIENT } from '../redis/redis.tokens.js';
import { type BreakerSnapshot, type BreakerState, MAIN_DB_BREAKER } from '../resilience/breaker.service.js';
import { ShutdownRegistry } from '../resilience/shutdown-registry.service.js';
import { BreakerHealthIndicator } from './breaker.health.js';
import { DatabaseHealthIndicator } from './database.health.js';
import { EventLoopHealthIndicator } from './event-loop.health.js';
import { EventLoopLagMonitor } from '../core/event-loop-lag.monitor.js';
import { HealthCheckFailedException } from './health-check-failed.exception.js';
import { HealthDatabase, type HealthPoolStats, HealthProbeError } from './health-database.js';
import { type HealthPayload, HealthService } from './health.service.js';
import { DirectoryHealthIndicator } from './directory.health.js';
import { DIRECTORY } from '../auth/directory/directory-sign-in.js';
import { LifecycleHealthIndicator } from './lifecycle.health.js';
import { PoolsHealthIndicator } from './pools.health.js';
import { RedisHealthIndicator } from './redis.health.js';
import { ResilienceDiagnostics } from './resilience-diagnostics.js';
import { AdmissionController } from '../resilience/admission/admission-controller.js';
import { RestartPolicySource, type RestartPolicyView } from './restart-policy.source.js';

class AllowedPolicy extends RestartPolicySource {
  current(): RestartPolicyView {
    return { state: 'allowed', cooldownRemainingS: 0, nextAction: 'automatic recovery allowed' };
  }
}
import { WorkerHealthIndicator } from './worker.health.js';

class FakeHealthDatabase extends HealthDatabase {
  calls = 0;
  lastSignal: AbortSignal | undefined;
  behaviour: (signal?: AbortSignal) => Promise<void> = () => Promise.resolve();
  get pings() {
    return this.calls;
  }
  ping(signal?: AbortSignal): Promise<void> {
    this.calls += 1;
    this.lastSignal = signal;
    return this.behaviour(signal);
  }
  stats(): HealthPoolStats {
    return { max: 2, open: 1, inUse: 0, idle: 1, waiting: 0 };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

class FakePool {
  current: PoolStats = { max: 10, size: 10, open: 10, inUse: 1, idle: 9, waiting: 0, saturation: 0.1 };
  stats() {
    return this.current;
  }
}

class FakeBreaker {
  state: BreakerState = 'closed';
  snapshot(): BreakerSnapshot {
    return {
      state: this.state,
      failureRate: this.state === 'closed' ? 0 : 1,
      volume: 5,
      retryAfterMs: this.state === 'open' ? 4000 : null,
      openedAt: null,
      consecutiveTrips: 0,
      thresholds: { failureRate: 0.5, minVolume: 5, windowMs: 10_000, openMs: 5000, openMaxMs: 60_000, halfOpenProbes: 1 },
    };
  }
}

class FakeRegistry {
  draining = false;
  get state() {
    return this.draining ? 'draining' : 'running';
  }
}

class FakeMonitor {
  lagMs = 2;
  current() {
    return { lagMs: this.lagMs, maxLagMs: this.lagMs, windowMs: 2000 };
  }
}

async function build(env: Record<string, string> = {}) {
  const { config } = loadConfig({ NODE_ENV: 'test', HEALTH_CACHE_MS: '0', ...env });
  const database = new FakeHealthDatabase();
  const pool = new FakePool();
  const breaker = new FakeBreaker();
  const registry = new FakeRegistry();
  const monitor = new FakeMonitor();
  const moduleRef = await Test.createTestingModule({
    imports: [RampartConfigModule.forRoot(config), TerminusModule.forRoot({ logger: false })],
    providers: [
      { provide: HealthDatabase, useValue: database },
      { provide: PoolManager, useValue: pool },
      { provide: MAIN_DB_BREAKER, useValue: breaker },
      { provide: ShutdownRegistry, useValue: registry },
      { provide: EventLoopLagMonitor, useValue: monitor },
      { provide: REDIS_CLIENT, useValue: null },
      { provide: DIRECTORY, useValue: null },
      { provide: ROOT_LOGGER, useValue: pino({ level: 'silent' }) },
      { provide: RestartPolicySource, useClass: AllowedPolicy },
      {
        provide: AdmissionController,
        useFactory: () => new AdmissionController(config.admission, { lagMs: () => monitor.lagMs }, pino({ level: 'silent' })),
      },
      LifecycleHealthIndicator,
      DatabaseHealthIndicator,
      DirectoryHealthIndicator,
      RedisHealthIndicator,
      EventLoopHealthIndicator,
      BreakerHealthIndicator,
      PoolsHealthIndicator,
      WorkerHealthIndicator,
      ResilienceDiagnostics,
      HealthService,
    ],
  }).compile();
  return {
    health: moduleRef.get(HealthService),
    admission: moduleRef.get(AdmissionController),
    database,
    pool,
    breaker,
    registry,
    monitor,
    close: () => moduleRef.close(),
  };
}

/** The payload of a 503 answer. */
async function failure(promise: Promise<HealthPayload>): Promise<HealthPayload> {
  const error: unknown = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HealthCheckFailedException);
  return (error as HealthCheckFailedException).payload;
}

describe(HealthService.name, () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it('is ready with the Terminus shape when the health database answers', async () => {
    const t = await build();
    close = t.close;
    const payload = await t.health.ready();
    expect(payload.status).toBe('ok');
    expect(payload.details).toMatchObject({ lifecycle: { status: 'up' }, database: { status: 'up' } });
    expect(payload.details).not.toHaveProperty('redis');
    expect(payload).not.toHaveProperty('resilience');
  });

  it('answers shutting_down from the first moment of draining, without pinging, while liveness stays ok', async () => {
    const t = await build();
    close = t.close;
    t.registry.draining = true;
    const payload = await failure(t.health.ready());
    expect(payload.status).toBe('shutting_down');
    expect(payload.error).toHaveProperty('lifecycle');
    expect((await failure(t.health.summary())).status).toBe('shutting_down');
    expect(t.database.calls).toBe(0);
    expect((await t.health.live()).status).toBe('ok');
  });

  it('reports an open breaker as degraded on /health and /health/deep but keeps readiness ok', async () => {
    const t = await build();
    close = t.close;
    t.breaker.state = 'open';
    const summary = await t.health.summary();
    expect(summary.status).toBe('degraded');
    expect(summary.resilience).toMatchObject({ breaker: { state: 'open', retryAfterMs: 4000 }, recommendation: 'recover' });
    expect((await t.health.deep()).status).toBe('degraded');
    expect((await t.health.ready()).status).toBe('ok');
    expect((await t.health.live()).status).toBe('ok');
  });

  it('carries the resilience block with thresholds, pool, breaker, recommendation and the restart policy', async () => {
    const t = await build();
    close = t.close;
    t.pool.current = { max: 10, size: 10, open: 10, inUse: 10, idle: 0, waiting: 7, saturation: 1 };
    const { resilience } = await t.health.summary();
    expect(resilience).toEqual({
      thresholds: {
        poolSaturationThrottle: 0.8,
        poolSaturationRecover: 1,
        breakerFailureRate: 0.5,
        eventLoopLagMs: 200,
        restartChurnMax: 3,
        restartChurnWindowS: 600,
      },
      pool: { size: 10, inUse: 10, idle: 0, waiting: 7, saturation: 1 },
      breaker: { state: 'closed', failureRate: 0, retryAfterMs: null },
      load: { limit: 64, inFlight: 0, shedRate: 0 },
      recommendation: 'recover',
      policy: { state: 'allowed', cooldownRemainingS: 0, nextAction: 'automatic recovery allowed' },
    });
  });

  it('fails liveness only on event-loop lag past the threshold; deep calls it degraded', async () => {
    const t = await build();
    close = t.close;
    t.database.behaviour = () => Promise.reject(new HealthProbeError('database unreachable'));
    expect((await t.health.live()).status).toBe('ok');
    t.monitor.lagMs = 250;
    const live = await failure(t.health.live());
    expect(live.status).toBe('error');
    expect(live.error).toMatchObject({ eventLoop: { lagMs: 250, thresholdMs: 200 } });
    t.database.behaviour = () => Promise.resolve();
    const deep = await t.health.deep();
    expect(deep.status).toBe('degraded');
    expect(deep.details).toMatchObject({ eventLoop: { status: 'degraded' }, worker: { pid: process.pid } });
  });

  it('never publishes driver text: anything but a probe error becomes fixed text', async () => {
    const t = await build();
    close = t.close;
    t.database.behaviour = () => Promise.reject(new Error('connect ECONNREFUSED 10.1.2.3:5432 for user "svc"'));
    const payload = await failure(t.health.ready());
    expect(payload.status).toBe('error');
    expect(payload.error).toEqual({ database: expect.objectContaining({ status: 'down', message: 'database unreachable' }) });
    expect(JSON.stringify(payload)).not.toContain('10.1.2.3');
  });

  it('aborts a ping that outlives HEALTH_DB_TIMEOUT_MS, so the health pool can drop its connection', async () => {
    const t = await build({ HEALTH_DB_TIMEOUT_MS: '50' });
    close = t.close;
    t.database.behaviour = (signal) =>
      new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(new HealthProbeError('database ping timed out'))));
    const started = Date.now();
    const payload = await failure(t.health.ready());
    expect(Date.now() - started).toBeLessThan(1000);
    expect(payload.error).toMatchObject({ database: { status: 'down' } });
    expect(t.database.lastSignal?.aborted).toBe(true);
  });

  describe('with HEALTH_CACHE_MS', () => {
    it('shares one ping among concurrent calls of every endpoint within the window', async () => {
      const t = await build({ HEALTH_CACHE_MS: '5000' });
      close = t.close;
      let release!: () => void;
      t.database.behaviour = () => new Promise((resolve) => (release = resolve));
      const calls = Array.from({ length: 100 }, (_, i) => [t.health.ready(), t.health.summary(), t.health.deep()][i % 3]);
      await new Promise((r) => setImmediate(r));
      release();
      const payloads = await Promise.all(calls);
      expect(payloads.every((p) => p?.status === 'ok')).toBe(true);
      await t.health.ready();
      expect(t.database.calls).toBe(1);
    });

    it('keeps a failure for the window too', async () => {
      const t = await build({ HEALTH_CACHE_MS: '5000' });
      close = t.close;
      t.database.behaviour = () => Promise.reject(new HealthProbeError('database unreachable'));
      await failure(t.health.ready());
      t.database.behaviour = () => Promise.resolve();
      const payload = await failure(t.health.ready());
      expect(payload.details).toMatchObject({ database: { status: 'down', cachedResponse: true } });
      expect(t.database.calls).toBe(1);
    });

    it('does not let a cached ok hide that shutdown started', async () => {
      const t = await build({ HEALTH_CACHE_MS: '5000' });
      close = t.close;
      expect((await t.health.ready()).status).toBe('ok');
      t.registry.draining = true;
      expect((await failure(t.health.ready())).status).toBe('shutting_down');
    });
  });
});
