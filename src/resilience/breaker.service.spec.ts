import { Logger } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  DbCircuitOpenException,
  DbQueryTimeoutException,
  DbUnavailableException,
  NotFoundException,
} from '../core/errors/index.js';
import {
  BREAKER_DEFAULTS,
  BreakerService,
  type BreakerOptions,
  type BreakerStateChange,
} from './breaker.service.js';

const infraFailure = () => () => Promise.reject(new DbUnavailableException(1000));
const ok = () => Promise.resolve('ok');

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe(BreakerService.name, () => {
  const breakers: BreakerService[] = [];

  function create(overrides: Partial<BreakerOptions> = {}, clock?: () => number) {
    const breaker = new BreakerService({ name: 'test', ...BREAKER_DEFAULTS, ...overrides }, clock);
    breakers.push(breaker);
    return breaker;
  }

  async function fail(breaker: BreakerService, times: number) {
    for (let i = 0; i < times; i++) {
      await expect(breaker.execute(infraFailure())).rejects.toBeInstanceOf(DbUnavailableException);
    }
  }

  async function succeed(breaker: BreakerService, times: number) {
    for (let i = 0; i < times; i++) await expect(breaker.execute(ok)).resolves.toBe('ok');
  }

  /** Trips a breaker with default thresholds and lets its open period elapse. */
  async function tripAndWaitForHalfOpen(breaker: BreakerService) {
    await fail(breaker, BREAKER_DEFAULTS.minVolume);
    const retryAfterMs = breaker.snapshot().retryAfterMs ?? 0;
    await vi.advanceTimersByTimeAsync(retryAfterMs);
    expect(breaker.snapshot().state).toBe('half_open');
  }

  /**
   * Runs pending listener dispatches. 1 ms rather than 0: under @sinonjs/fake-timers an
   * immediate scheduled from inside a fake timer callback only fires on the next tick.
   */
  async function flushListeners() {
    await vi.advanceTimersByTimeAsync(1);
  }

  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2030-01-01T00:00:00.000Z') });
  });

  afterEach(() => {
    for (const breaker of breakers.splice(0)) breaker.shutdown();
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('stays closed after a single infrastructure failure', async () => {
    const breaker = create();

    await fail(breaker, 1);

    expect(breaker.snapshot()).toMatchObject({ state: 'closed', failureRate: 1, volume: 1 });
    await expect(breaker.execute(ok)).resolves.toBe('ok');
  });

  it('stays closed at a 100% failure rate until the window holds minVolume calls', async () => {
    const breaker = create();

    await fail(breaker, BREAKER_DEFAULTS.minVolume - 1);
    expect(breaker.snapshot().state).toBe('closed');

    await fail(breaker, 1);
    expect(breaker.snapshot()).toMatchObject({
      state: 'open',
      failureRate: 1,
      volume: BREAKER_DEFAULTS.minVolume,
      consecutiveTrips: 1,
    });
  });

  it('opens when infrastructure failures reach the failure rate, not below it', async () => {
    const below = create();
    await succeed(below, 11);
    await fail(below, 9);
    expect(below.snapshot()).toMatchObject({ state: 'closed', failureRate: 0.45, volume: 20 });

    const atRate = create();
    await succeed(atRate, 10);
    await fail(atRate, 10);
    expect(atRate.snapshot()).toMatchObject({ state: 'open', failureRate: 0.5 });
  });

  it('forgets failures older than the window', async () => {
    const breaker = create();
    await fail(breaker, BREAKER_DEFAULTS.minVolume - 1);

    await vi.advanceTimersByTimeAsync(BREAKER_DEFAULTS.windowMs);
    await fail(breaker, 1);

    expect(breaker.snapshot()).toMatchObject({ state: 'closed', volume: 1 });
  });

  it('counts non-infrastructure errors as successes and rethrows them unchanged', async () => {
    const breaker = create();
    const notFound = new NotFoundException();
    const plain = new TypeError('bad input');

    for (let i = 0; i < 15; i++) {
      await expect(breaker.execute(() => Promise.reject(notFound))).rejects.toBe(notFound);
    }
    await expect(breaker.execute(() => Promise.reject(plain))).rejects.toBe(plain);
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', failureRate: 0, volume: 16 });

    // 9 infra failures of 25 calls is 36%: only stays closed if the 16 count as successes.
    await fail(breaker, 9);
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', failureRate: 9 / 25, volume: 25 });
  });

  it('fails fast with DB_CIRCUIT_OPEN while open, without calling fn, until half-open', async () => {
    const breaker = create();
    await fail(breaker, 20);
    const trippedAt = new Date(Date.now()).toISOString();
    await vi.advanceTimersByTimeAsync(1200);
    const fn = vi.fn(ok);

    const error = await breaker.execute(fn).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DbCircuitOpenException);
    expect(error).toMatchObject({ code: 'DB_CIRCUIT_OPEN', retryAfterMs: 3800, retryable: true });
    expect(fn).not.toHaveBeenCalled();
    expect(breaker.snapshot()).toMatchObject({
      state: 'open',
      retryAfterMs: 3800,
      openedAt: trippedAt,
    });
  });

  it('reports retryAfterMs in whole milliseconds, never below 1, and goes half-open by the clock alone', async () => {
    vi.useRealTimers();
    let now = 1000.25;
    const breaker = create({}, () => now);
    await fail(breaker, 20);

    now += 4999.5;
    expect(breaker.snapshot().retryAfterMs).toBe(1);
    const error = await breaker.execute(ok).catch((e: unknown) => e);
    expect(error).toMatchObject({ retryAfterMs: 1 });

    now += 1;
    expect(breaker.snapshot().state).toBe('half_open');
  });

  it('closes when the probe after the open period succeeds, with an emptied window', async () => {
    const breaker = create();
    await tripAndWaitForHalfOpen(breaker);

    await expect(breaker.execute(ok)).resolves.toBe('ok');

    expect(breaker.snapshot()).toMatchObject({
      state: 'closed',
      failureRate: 0,
      volume: 0,
      retryAfterMs: null,
      openedAt: null,
    });
    // With the tripping failures still in the window this one would re-open it.
    await fail(breaker, 1);
    expect(breaker.snapshot().state).toBe('closed');
  });

  it('closes when the probe fails with a non-infrastructure error', async () => {
    const breaker = create();
    await tripAndWaitForHalfOpen(breaker);
    const notFound = new NotFoundException();

    await expect(breaker.execute(() => Promise.reject(notFound))).rejects.toBe(notFound);

    expect(breaker.snapshot().state).toBe('closed');
  });

  it('rejects calls beyond the probe budget while the probe is in flight', async () => {
    const breaker = create();
    await tripAndWaitForHalfOpen(breaker);
    const probe = deferred<string>();
    const probeCall = breaker.execute(() => probe.promise);
    const extra = vi.fn(ok);

    const error = await breaker.execute(extra).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DbCircuitOpenException);
    expect(error).toMatchObject({ retryAfterMs: BREAKER_DEFAULTS.openMs / 10 });
    expect(extra).not.toHaveBeenCalled();
    expect(breaker.snapshot()).toMatchObject({ state: 'half_open', retryAfterMs: 500 });

    probe.resolve('probed');
    await expect(probeCall).resolves.toBe('probed');
    expect(breaker.snapshot().state).toBe('closed');
  });

  it('lets exactly halfOpenProbes calls through while half-open', async () => {
    const breaker = create({ halfOpenProbes: 2 });
    await tripAndWaitForHalfOpen(breaker);
    const probes = [deferred<string>(), deferred<string>()];
    const calls = probes.map((p) => breaker.execute(() => p.promise));
    const third = vi.fn(ok);

    await expect(breaker.execute(third)).rejects.toBeInstanceOf(DbCircuitOpenException);
    expect(third).not.toHaveBeenCalled();

    probes[0]?.resolve('a');
    probes[1]?.resolve('b');
    await expect(Promise.all(calls)).resolves.toEqual(['a', 'b']);
    expect(breaker.snapshot().state).toBe('closed');
  });

  it('ignores a straggler that started before the trip when deciding the probe', async () => {
    const breaker = create();
    const straggler = deferred<string>();
    const stragglerCall = breaker.execute(() => straggler.promise);
    await tripAndWaitForHalfOpen(breaker);

    straggler.resolve('late');
    await expect(stragglerCall).resolves.toBe('late');

    expect(breaker.snapshot().state).toBe('half_open');
  });

  it('ignores a probe from an earlier half-open episode', async () => {
    const breaker = create({ halfOpenProbes: 2 });
    await tripAndWaitForHalfOpen(breaker);
    const slowProbe = deferred<string>();
    const slowProbeCall = breaker.execute(() => slowProbe.promise);
    await fail(breaker, 1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(breaker.snapshot().state).toBe('half_open');

    slowProbe.resolve('stale');
    await expect(slowProbeCall).resolves.toBe('stale');

    expect(breaker.snapshot().state).toBe('half_open');
  });

  it('re-opens on a failed probe with a doubled open period, capped at openMaxMs', async () => {
    const breaker = create({ openMaxMs: 12_000 });
    await fail(breaker, 20);
    expect(breaker.snapshot()).toMatchObject({ retryAfterMs: 5000, consecutiveTrips: 1 });

    await vi.advanceTimersByTimeAsync(5000);
    await fail(breaker, 1);
    expect(breaker.snapshot()).toMatchObject({
      state: 'open',
      retryAfterMs: 10_000,
      consecutiveTrips: 2,
    });

    await vi.advanceTimersByTimeAsync(9999);
    expect(breaker.snapshot().state).toBe('open');
    await vi.advanceTimersByTimeAsync(1);
    await fail(breaker, 1);
    expect(breaker.snapshot()).toMatchObject({
      state: 'open',
      retryAfterMs: 12_000,
      consecutiveTrips: 3,
    });
  });

  it('keeps growing the open period when it trips again soon after closing', async () => {
    const breaker = create();
    await tripAndWaitForHalfOpen(breaker);
    await succeed(breaker, 1);

    await fail(breaker, 20);

    expect(breaker.snapshot()).toMatchObject({ retryAfterMs: 10_000, consecutiveTrips: 2 });
  });

  it('resets the backoff to openMs after staying closed for healthyResetMs', async () => {
    const breaker = create({ healthyResetMs: 30_000 });
    await tripAndWaitForHalfOpen(breaker);
    await fail(breaker, 1);
    await vi.advanceTimersByTimeAsync(10_000);
    await succeed(breaker, 1);
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', consecutiveTrips: 2 });

    await vi.advanceTimersByTimeAsync(29_999);
    expect(breaker.snapshot().consecutiveTrips).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(breaker.snapshot().consecutiveTrips).toBe(0);

    await fail(breaker, 20);
    expect(breaker.snapshot()).toMatchObject({ retryAfterMs: 5000, consecutiveTrips: 1 });
  });

  it('notifies listeners asynchronously, after the new state is in place', async () => {
    const breaker = create();
    const seen: Array<{ change: BreakerStateChange; stateDuringCall: string }> = [];
    breaker.onStateChange((change) => {
      seen.push({ change, stateDuringCall: breaker.snapshot().state });
    });

    await fail(breaker, 20);
    const trippedAt = new Date(Date.now()).toISOString();
    expect(seen).toHaveLength(0);
    await flushListeners();

    expect(seen).toEqual([
      {
        change: {
          from: 'closed',
          to: 'open',
          at: trippedAt,
          failureRate: 1,
          retryAfterMs: 5000,
        },
        stateDuringCall: 'open',
      },
    ]);

    await vi.advanceTimersByTimeAsync(5000);
    await succeed(breaker, 1);
    await flushListeners();
    expect(seen.map(({ change }) => [change.from, change.to])).toEqual([
      ['closed', 'open'],
      ['open', 'half_open'],
      ['half_open', 'closed'],
    ]);
  });

  it('resumes the caller that caused a change before any listener runs', async () => {
    const breaker = create();
    const order: string[] = [];
    breaker.onStateChange(() => {
      order.push('listener');
    });
    await fail(breaker, 19);

    await expect(breaker.execute(infraFailure())).rejects.toBeInstanceOf(DbUnavailableException);
    order.push('caller');
    await flushListeners();

    expect(order).toEqual(['caller', 'listener']);
  });

  it('is not held up or broken by listeners that never settle, throw or reject', async () => {
    const logError = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const breaker = create();
    breaker.onStateChange(() => new Promise<never>(() => undefined));
    breaker.onStateChange(() => {
      throw new Error('log sink down');
    });
    breaker.onStateChange(() => Promise.reject(new Error('async sink down')));
    const healthy = vi.fn();
    breaker.onStateChange(healthy);

    await fail(breaker, 20);
    await vi.advanceTimersByTimeAsync(5000);
    await succeed(breaker, 1);
    await flushListeners();

    expect(breaker.snapshot().state).toBe('closed');
    expect(healthy).toHaveBeenCalledTimes(3);
    // Reported, not swallowed: one throw and one rejection per change.
    expect(logError).toHaveBeenCalledTimes(6);
  });

  it('stops notifying a listener once unsubscribed, including changes already queued', async () => {
    const breaker = create();
    const early = vi.fn();
    const late = vi.fn();
    breaker.onStateChange(early)();
    const unsubscribeLate = breaker.onStateChange(late);

    await fail(breaker, 20);
    unsubscribeLate();
    await flushListeners();

    expect(early).not.toHaveBeenCalled();
    expect(late).not.toHaveBeenCalled();
  });

  it('reports thresholds and latency percentiles in the snapshot', async () => {
    const breaker = create({ halfOpenProbes: 3 });
    expect(breaker.snapshot()).toEqual({
      state: 'closed',
      failureRate: 0,
      volume: 0,
      retryAfterMs: null,
      openedAt: null,
      consecutiveTrips: 0,
      thresholds: { ...BREAKER_DEFAULTS, halfOpenProbes: 3 },
    });

    const slow = breaker.execute(() => new Promise((resolve) => setTimeout(resolve, 40)));
    await vi.advanceTimersByTimeAsync(40);
    await slow;

    expect(breaker.snapshot().latencyMs).toEqual({ p50: 40, p99: 40 });
  });

  it('leaves no timers behind after shutdown, tolerates a second shutdown and still runs calls', async () => {
    const breaker = create();
    await fail(breaker, 20);
    expect(vi.getTimerCount()).toBeGreaterThan(0);

    breaker.shutdown();
    breaker.shutdown();

    expect(vi.getTimerCount()).toBe(0);
    await expect(breaker.execute(ok)).resolves.toBe('ok');
  });

  describe('recovery probe', () => {
    const timeoutFailure = () => () => Promise.reject(new DbQueryTimeoutException(1000, 2000));

    /** A probe whose answer the test switches: down (rejects) or up (resolves). */
    function switchableProbe(initiallyUp: boolean) {
      let up = initiallyUp;
      const probe = vi.fn(() => (up ? Promise.resolve() : Promise.reject(new Error('ECONNREFUSED'))));
      return { probe, set: (value: boolean) => (up = value) };
    }

    /** Trips `times` in a row (each failed trial doubles the open period), ending open. */
    async function tripRepeatedly(breaker: BreakerService, times: number, failure = infraFailure()) {
      for (let i = 0; i < BREAKER_DEFAULTS.minVolume; i++) await breaker.execute(failure).catch(() => undefined);
      for (let trip = 1; trip < times; trip++) {
        await vi.advanceTimersByTimeAsync(breaker.snapshot().retryAfterMs ?? 0);
        expect(breaker.snapshot().state).toBe('half_open');
        await breaker.execute(failure).catch(() => undefined);
      }
      expect(breaker.snapshot()).toMatchObject({ state: 'open', consecutiveTrips: times });
    }

    it('goes half-open within one probe interval once the database answers again, however long the open period, and the trial closes it', async () => {
      const breaker = create({ openMaxMs: 60_000, recoveryProbeMs: 1000 });
      const db = switchableProbe(false);
      breaker.setRecoveryProbe(db.probe);
      await tripRepeatedly(breaker, 4);
      expect(breaker.snapshot().retryAfterMs).toBe(40_000);

      // Still down: probes fail and the breaker stays open.
      await vi.advanceTimersByTimeAsync(5000);
      expect(breaker.snapshot().state).toBe('open');
      expect(db.probe.mock.calls.length).toBeGreaterThanOrEqual(4);

      db.set(true);
      await vi.advanceTimersByTimeAsync(1000);
      expect(breaker.snapshot().state).toBe('half_open');
      await expect(breaker.execute(ok)).resolves.toBe('ok');
      expect(breaker.snapshot()).toMatchObject({ state: 'closed', retryAfterMs: null });
    });

    it('keeps the doubled open period while the probe keeps failing', async () => {
      const breaker = create({ openMaxMs: 60_000 });
      const db = switchableProbe(false);
      breaker.setRecoveryProbe(db.probe);
      await tripRepeatedly(breaker, 3);

      await vi.advanceTimersByTimeAsync(19_999);
      expect(breaker.snapshot()).toMatchObject({ state: 'open', retryAfterMs: 1 });
      await vi.advanceTimersByTimeAsync(1);
      expect(breaker.snapshot().state).toBe('half_open');
    });

    it('keeps the backoff for a database that answers the probe but times out real calls (never seen down)', async () => {
      const breaker = create({ openMaxMs: 60_000 });
      const db = switchableProbe(true);
      breaker.setRecoveryProbe(db.probe);
      await tripRepeatedly(breaker, 2, timeoutFailure());

      await vi.advanceTimersByTimeAsync(9000);
      expect(db.probe).toHaveBeenCalled();
      expect(breaker.snapshot().state).toBe('open');
    });

    it('treats a trip by an unreachable database as seen down: the first probe that answers is a recovery', async () => {
      const breaker = create({ openMaxMs: 60_000 });
      const db = switchableProbe(true);
      breaker.setRecoveryProbe(db.probe);
      await tripRepeatedly(breaker, 3);

      await vi.advanceTimersByTimeAsync(1000);
      expect(breaker.snapshot().state).toBe('half_open');
    });

    it('runs one probe at a time, only while open, and not after shutdown', async () => {
      const breaker = create({ recoveryProbeMs: 100 });
      let running = 0;
      let maxRunning = 0;
      const probe = vi.fn(async () => {
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((resolve) => setTimeout(resolve, 350));
        running -= 1;
        throw new Error('down');
      });
      breaker.setRecoveryProbe(probe);
      await vi.advanceTimersByTimeAsync(1000);
      expect(probe).not.toHaveBeenCalled();

      await fail(breaker, 20);
      await vi.advanceTimersByTimeAsync(1000);
      expect(maxRunning).toBe(1);
      expect(probe.mock.calls.length).toBeGreaterThanOrEqual(2);

      breaker.shutdown();
      const calls = probe.mock.calls.length;
      await vi.advanceTimersByTimeAsync(1000);
      expect(probe.mock.calls.length).toBe(calls);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('ignores a probe verdict that arrives after its open period ended', async () => {
      const breaker = create({ recoveryProbeMs: 1000 });
      const answer = deferred<void>();
      breaker.setRecoveryProbe(() => answer.promise);
      await fail(breaker, 20);
      await vi.advanceTimersByTimeAsync(1000);
      // The open period ends (half-open by the clock) and the trial fails: a new open period.
      await vi.advanceTimersByTimeAsync(4000);
      await fail(breaker, 1);
      expect(breaker.snapshot()).toMatchObject({ state: 'open', consecutiveTrips: 2 });

      answer.resolve();
      await vi.advanceTimersByTimeAsync(0);
      expect(breaker.snapshot().state).toBe('open');
    });
  });

  it('rejects options that cannot describe a breaker', () => {
    expect(() => create({ failureRate: 0 })).toThrow(RangeError);
    expect(() => create({ minVolume: 0 })).toThrow(/minVolume/);
    expect(() => create({ openMs: 10_000, openMaxMs: 5000 })).toThrow(/openMaxMs/);
    expect(() => create({ recoveryProbeMs: 0 })).toThrow(/recoveryProbeMs/);
  });
});
