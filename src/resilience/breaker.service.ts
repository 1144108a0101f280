import { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import CircuitBreaker from 'opossum';
import { DbCircuitOpenException, DbInfrastructureException, DbUnavailableException } from '../core/errors/index.js';

export interface BreakerOptions {
  name: string;
  /** Share of infrastructure failures (0..1] among calls in the window at which the breaker trips. */
  failureRate: number;
  windowMs: number;
  /** Calls that must have completed in the window before the rate is trusted. */
  minVolume: number;
  /** First open period; doubles on each consecutive trip up to `openMaxMs`. */
  openMs: number;
  openMaxMs: number;
  halfOpenProbes: number;
  /** Closed this long without tripping and the next trip starts again at `openMs`. Default: `windowMs`. */
  healthyResetMs?: number;
  /** How often the recovery probe (setRecoveryProbe) runs while open. Default: 1000 ms. */
  recoveryProbeMs?: number;
  /** What counts as the guarded resource failing, and what callers get while it is open. Default: the database's. */
  failures?: BreakerFailureModel;
}

/** How a breaker reads its resource's errors; one breaker implementation serves every dependency. */
export interface BreakerFailureModel {
  /** An infrastructure failure (counts towards tripping); anything else means the resource answered. */
  isFailure(error: unknown): boolean;
  /** The resource could not be reached at all (refused, reset): the first probe that answers is a recovery. */
  isUnreachable(error: unknown): boolean;
  /** What a call refused while open (or past the half-open probes) throws. */
  rejection(retryAfterMs: number): Error;
}

/** The main database's: mapped database exceptions, and DB_CIRCUIT_OPEN while open. */
export const DATABASE_FAILURES: BreakerFailureModel = {
  isFailure: (error) => error instanceof DbInfrastructureException,
  isUnreachable: (error) => error instanceof DbUnavailableException,
  rejection: (retryAfterMs) => new DbCircuitOpenException(retryAfterMs),
};

/** Resolves when the guarded resource answers; any rejection counts as "still down". */
export type RecoveryProbe = () => Promise<unknown>;

const DEFAULT_RECOVERY_PROBE_MS = 1000;

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerThresholds {
  failureRate: number;
  minVolume: number;
  windowMs: number;
  openMs: number;
  openMaxMs: number;
  halfOpenProbes: number;
}

export interface BreakerSnapshot {
  state: BreakerState;
  /** Infrastructure failures / completed calls in the window; 0 when there were none. */
  failureRate: number;
  /** Completed calls in the window. */
  volume: number;
  /** What a caller rejected right now would be told; null when a call would be let through. */
  retryAfterMs: number | null;
  /** ISO time of the trip that started the current open/half-open episode. */
  openedAt: string | null;
  consecutiveTrips: number;
  thresholds: BreakerThresholds;
  latencyMs?: { p50: number; p99: number };
}

export interface BreakerStateChange {
  from: BreakerState;
  to: BreakerState;
  /** ISO time of the transition. */
  at: string;
  failureRate: number;
  retryAfterMs: number | null;
}

/** The return value is ignored (never awaited), so async listeners are fine. */
export type BreakerStateListener = (change: BreakerStateChange) => unknown;

/** DI token for the breaker shared by everything that uses the main database pool. */
export const MAIN_DB_BREAKER = Symbol('MAIN_DB_BREAKER');

/** Defaults for the factory that builds a breaker from configuration. */
export const BREAKER_DEFAULTS = {
  failureRate: 0.5,
  windowMs: 10_000,
  minVolume: 20,
  openMs: 5_000,
  openMaxMs: 60_000,
  halfOpenProbes: 1,
} as const satisfies Omit<BreakerOptions, 'name'>;

const BUCKETS = 10;

type Action = () => Promise<unknown>;

/**
 * Circuit breaker for the database. opossum supplies execution, error classification
 * (`errorFilter`) and the bucketed rolling window with latency percentiles; the state
 * machine is ours, because opossum's (v10) cannot express what we need:
 * - its half-open state admits exactly one call (`pendingClose`), so `halfOpenProbes > 1`
 *   is impossible, and any straggler that started before the trip decides the probe;
 * - `resetTimeout` is fixed per breaker: no backoff short of mutating its options;
 * - its volume and rate use `fires`, which counts rejected and still-running calls;
 * - closing keeps the window that tripped it, so one failure right after recovery can
 *   re-open it.
 * opossum is therefore kept permanently closed (its own trip is made unreachable) and the
 * rejection while open happens here, before `fire()`, so its counts stay clean.
 *
 * Recovery: the doubling open period is right for a resource that keeps failing, but alone it
 * outlasts an outage that ends early (a 45 s outage left it open 35 s more). So while open the
 * breaker runs its owner's recovery probe every `recoveryProbeMs`; when a probe succeeds after
 * the resource was seen down (a probe failed, or the trip itself was "unreachable"), it goes
 * half-open at once and the next call is the trial. Only that edge counts: a resource that
 * answers the probe but still fails real calls with timeouts (a lock, a slow query) was never
 * seen down, so it keeps the backoff.
 */
export class BreakerService {
  private readonly logger: Logger;
  private readonly thresholds: BreakerThresholds;
  private readonly healthyResetMs: number;
  private readonly circuit: CircuitBreaker<[Action], unknown>;
  /** Our own rotation clock instead of opossum's interval, so a close can also empty the window. */
  private readonly rotation = new EventEmitter();
  private readonly rotationTimer: NodeJS.Timeout;
  private readonly listeners = new Set<{ listener: BreakerStateListener }>();
  private readonly failures: BreakerFailureModel;

  private state: BreakerState = 'closed';
  /** Bumped on every transition so a probe verdict from an earlier episode is ignored. */
  private generation = 0;
  private consecutiveTrips = 0;
  private closedSince: number;
  private openedAt: number | null = null;
  private halfOpenAt: number | null = null;
  private probesAdmitted = 0;
  private halfOpenTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly recoveryProbeMs: number;
  private recoveryProbe: RecoveryProbe | null = null;
  private probeTimer: NodeJS.Timeout | undefined;
  private probeRunning = false;
  /** A probe failed during this open period: the next success is a recovery. */
  private probeSawFailure = false;

  constructor(
    options: BreakerOptions,
    private readonly clock: () => number = Date.now,
  ) {
    validate(options);
    this.logger = new Logger(`${BreakerService.name}:${options.name}`);
    this.thresholds = {
      failureRate: options.failureRate,
      minVolume: options.minVolume,
      windowMs: options.windowMs,
      openMs: options.openMs,
      openMaxMs: options.openMaxMs,
      halfOpenProbes: options.halfOpenProbes,
    };
    this.healthyResetMs = options.healthyResetMs ?? options.windowMs;
    this.recoveryProbeMs = options.recoveryProbeMs ?? DEFAULT_RECOVERY_PROBE_MS;
    this.failures = options.failures ?? DATABASE_FAILURES;
    const failures = this.failures;
    this.closedSince = this.clock();

    const buckets = Math.min(BUCKETS, options.windowMs);
    this.circuit = new CircuitBreaker<[Action], unknown>((fn) => fn(), {
      name: options.name,
      // The database layer cancels slow queries server-side; a timeout here would only
      // abandon a query that keeps holding its connection.
      timeout: false,
      rollingCountTimeout: options.windowMs,
      rollingCountBuckets: buckets,
      rotateBucketController: this.rotation,
      // Snapshots would add a second interval that nobody listens to.
      enableSnapshots: false,
      rollingPercentilesEnabled: true,
      // v10 emits `success` for filtered errors, so validation, not-found and constraint
      // errors lower the failure rate, as they should: the database answered.
      errorFilter: (error: unknown) => !failures.isFailure(error),
      // Trip decisions are ours (see class comment); keep opossum's unreachable.
      volumeThreshold: Number.MAX_SAFE_INTEGER,
      errorThresholdPercentage: 100,
      allowWarmUp: false,
    });
    this.rotationTimer = setInterval(
      () => this.rotation.emit('rotate'),
      Math.max(1, Math.floor(options.windowMs / buckets)),
    );
    this.rotationTimer.unref();
  }

  async execute<T>(fn: () => Promise<T>): Promise<T> {
    // Requests still draining after shutdown need the database more than statistics.
    if (this.stopped) return fn();

    this.advance(this.clock());
    let probeOf: number | null = null;
    if (this.state === 'open') {
      throw this.failures.rejection(this.msUntilHalfOpen(this.clock()));
    }
    if (this.state === 'half_open') {
      if (this.probesAdmitted >= this.thresholds.halfOpenProbes) {
        throw this.failures.rejection(this.probeRetryAfterMs());
      }
      this.probesAdmitted += 1;
      probeOf = this.generation;
    }

    let result: T;
    try {
      // opossum resolves with the action's own value; it only loses the type parameter.
      result = (await this.circuit.fire(fn)) as T;
    } catch (error: unknown) {
      this.settle(probeOf, this.failures.isFailure(error), error);
      throw error;
    }
    this.settle(probeOf, false);
    return result;
  }

  snapshot(): BreakerSnapshot {
    const now = this.clock();
    this.advance(now);
    // `stats` sorts every latency in the window: fine for health and metrics reads,
    // too costly for the per-failure trip check (see windowCounts).
    const stats = this.circuit.stats;
    const volume = stats.successes + stats.failures;
    const snapshot: BreakerSnapshot = {
      state: this.state,
      failureRate: volume === 0 ? 0 : stats.failures / volume,
      volume,
      retryAfterMs: this.retryAfterMs(now),
      openedAt: this.openedAt === null ? null : new Date(this.openedAt).toISOString(),
      consecutiveTrips: this.consecutiveTrips,
      thresholds: { ...this.thresholds },
    };
    if (stats.latencyTimes.length > 0) {
      const p50 = stats.percentiles[0.5];
      const p99 = stats.percentiles[0.99];
      if (p50 !== undefined && p99 !== undefined) snapshot.latencyMs = { p50, p99 };
    }
    return snapshot;
  }

  onStateChange(listener: BreakerStateListener): () => void {
    // A wrapper per subscription, so subscribing the same function twice and
    // unsubscribing once leaves the other subscription alone.
    const entry = { listener };
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  /**
   * Set by whoever owns the guarded resource (the database module: a `SELECT 1` through the
   * request pool), so this class needs no knowledge of it. Runs only while open, one at a time;
   * it must bound its own duration (the pool's timeouts do).
   */
  setRecoveryProbe(probe: RecoveryProbe | null): void {
    this.recoveryProbe = probe;
    if (probe === null) this.stopProbing();
    else if (this.state === 'open') this.startProbing();
  }

  shutdown(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stopProbing();
    clearInterval(this.rotationTimer);
    clearTimeout(this.halfOpenTimer);
    this.halfOpenTimer = undefined;
    this.circuit.shutdown();
    this.listeners.clear();
  }

  private settle(probeOf: number | null, failed: boolean, error?: unknown): void {
    if (this.stopped) return;
    if (probeOf !== null) {
      // The first verdict of an episode decides; later probes of the same episode are moot.
      if (this.state !== 'half_open' || probeOf !== this.generation) return;
      if (failed) this.trip(error);
      else this.close();
      return;
    }
    if (!failed || this.state !== 'closed') return;
    const { failures, volume } = this.windowCounts();
    if (volume >= this.thresholds.minVolume && failures / volume >= this.thresholds.failureRate) {
      this.trip(error);
    }
  }

  /** `cause`: the failure that tripped it; an unreachable resource counts as seen down. */
  private trip(cause?: unknown): void {
    const now = this.clock();
    this.advance(now);
    const from = this.state;
    this.consecutiveTrips += 1;
    const openFor = Math.min(
      this.thresholds.openMaxMs,
      this.thresholds.openMs * 2 ** (this.consecutiveTrips - 1),
    );
    this.state = 'open';
    this.generation += 1;
    this.openedAt = now;
    this.halfOpenAt = now + openFor;
    this.probesAdmitted = 0;
    // Unreachable (refused, reset): the first probe that answers is a recovery. A timeout or an
    // exhausted pool says nothing about reachability; a probe must fail first.
    this.probeSawFailure = this.failures.isUnreachable(cause);
    this.armHalfOpenTimer(openFor);
    this.startProbing();
    this.notify(from, now, this.msUntilHalfOpen(now));
  }

  private close(): void {
    const now = this.clock();
    const from = this.state;
    this.state = 'closed';
    this.generation += 1;
    this.closedSince = now;
    this.openedAt = null;
    this.halfOpenAt = null;
    this.probesAdmitted = 0;
    clearTimeout(this.halfOpenTimer);
    this.halfOpenTimer = undefined;
    this.stopProbing();
    // The window still holds the failures that tripped the breaker; keeping them would let a
    // single failure after recovery re-open it. Rotating every bucket out empties it.
    for (let i = 0; i < this.circuit.status.window.length; i++) this.rotation.emit('rotate');
    this.notify(from, now, null);
  }

  /**
   * Applies the transitions that are due by the clock. The timer is only a trigger for
   * listeners; callers and snapshots never depend on it having fired (event-loop lag,
   * injected clocks).
   */
  private advance(now: number): void {
    if (this.stopped) return;
    if (this.state === 'open' && this.halfOpenAt !== null && now >= this.halfOpenAt) this.halfOpen(now);
    if (
      this.state === 'closed' &&
      this.consecutiveTrips > 0 &&
      now - this.closedSince >= this.healthyResetMs
    ) {
      this.consecutiveTrips = 0;
    }
  }

  private halfOpen(now: number): void {
    const from = this.state;
    this.state = 'half_open';
    this.generation += 1;
    this.probesAdmitted = 0;
    this.halfOpenAt = Math.min(this.halfOpenAt ?? now, now);
    clearTimeout(this.halfOpenTimer);
    this.halfOpenTimer = undefined;
    this.stopProbing();
    this.notify(from, now, null);
  }

  private startProbing(): void {
    if (this.recoveryProbe === null || this.probeTimer !== undefined || this.stopped) return;
    this.probeTimer = setInterval(() => void this.runRecoveryProbe(), this.recoveryProbeMs);
    // Like the half-open timer: an open breaker must not keep the process alive.
    this.probeTimer.unref();
  }

  private stopProbing(): void {
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
  }

  private async runRecoveryProbe(): Promise<void> {
    const probe = this.recoveryProbe;
    if (probe === null || this.probeRunning || this.stopped || this.state !== 'open') return;
    this.probeRunning = true;
    const episode = this.generation;
    let answered: boolean;
    try {
      await probe();
      answered = true;
    } catch {
      answered = false;
    } finally {
      this.probeRunning = false;
    }
    // A verdict about an earlier open period says nothing about this one.
    if (this.stopped || this.state !== 'open' || episode !== this.generation) return;
    if (!answered) {
      this.probeSawFailure = true;
      return;
    }
    if (!this.probeSawFailure) return;
    this.logger.log('recovery probe answered after failing: half-open now, the next call is the trial');
    this.halfOpen(this.clock());
  }

  private armHalfOpenTimer(delayMs: number): void {
    clearTimeout(this.halfOpenTimer);
    this.halfOpenTimer = setTimeout(() => {
      this.halfOpenTimer = undefined;
      this.advance(this.clock());
      // An injected clock may lag the real timer; try again when it says it is due.
      if (this.state === 'open' && !this.stopped) {
        this.armHalfOpenTimer(this.msUntilHalfOpen(this.clock()));
      }
    }, delayMs);
    // An open breaker must not keep the process alive.
    this.halfOpenTimer.unref();
  }

  /** Cheap sum over opossum's buckets for the per-failure trip check. */
  private windowCounts(): { failures: number; volume: number } {
    let failures = 0;
    let successes = 0;
    for (const bucket of this.circuit.status.window) {
      failures += bucket.failures;
      successes += bucket.successes;
    }
    return { failures, volume: failures + successes };
  }

  private retryAfterMs(now: number): number | null {
    if (this.state === 'open') return this.msUntilHalfOpen(now);
    if (this.state === 'half_open' && this.probesAdmitted >= this.thresholds.halfOpenProbes) {
      return this.probeRetryAfterMs();
    }
    return null;
  }

  /** Whole ms, at least 1: Retry-After rounds up to seconds and 0 would invite a retry storm. */
  private msUntilHalfOpen(now: number): number {
    return Math.max(1, Math.ceil((this.halfOpenAt ?? now) - now));
  }

  /**
   * Half-open with the probes already out: the verdict is one round trip away, whose length we
   * cannot know (the database layer owns timeouts). A tenth of the base open period keeps
   * rejected callers from hammering while not making them wait a full open period.
   */
  private probeRetryAfterMs(): number {
    return Math.max(1, Math.ceil(this.thresholds.openMs / 10));
  }

  private notify(from: BreakerState, now: number, retryAfterMs: number | null): void {
    if (this.listeners.size === 0) return;
    const { failures, volume } = this.windowCounts();
    const change: BreakerStateChange = {
      from,
      to: this.state,
      at: new Date(now).toISOString(),
      failureRate: volume === 0 ? 0 : failures / volume,
      retryAfterMs,
    };
    const entries = [...this.listeners];
    // setImmediate rather than a microtask: the caller whose call caused the change resumes
    // first, so even a listener that blocks synchronously cannot delay that caller.
    setImmediate(() => {
      for (const entry of entries) {
        if (!this.listeners.has(entry)) continue;
        try {
          const returned = entry.listener(change);
          if (isThenable(returned)) {
            returned.then(undefined, (error: unknown) => this.reportListenerError(error));
          }
        } catch (error: unknown) {
          this.reportListenerError(error);
        }
      }
    });
  }

  private reportListenerError(error: unknown): void {
    this.logger.error(
      `A breaker state listener failed: ${error instanceof Error ? error.message : String(error)}`,
      error instanceof Error ? error.stack : undefined,
    );
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function validate(options: BreakerOptions): void {
  const problems: string[] = [];
  const positiveInt = (key: keyof BreakerOptions, value: number | undefined) => {
    if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
      problems.push(`${key} must be a positive integer (got ${value})`);
    }
  };
  if (!(options.failureRate > 0 && options.failureRate <= 1)) {
    problems.push(`failureRate must be in (0, 1] (got ${options.failureRate})`);
  }
  positiveInt('windowMs', options.windowMs);
  positiveInt('minVolume', options.minVolume);
  positiveInt('openMs', options.openMs);
  positiveInt('openMaxMs', options.openMaxMs);
  positiveInt('halfOpenProbes', options.halfOpenProbes);
  positiveInt('healthyResetMs', options.healthyResetMs);
  positiveInt('recoveryProbeMs', options.recoveryProbeMs);
  if (options.openMaxMs < options.openMs) {
    problems.push(`openMaxMs (${options.openMaxMs}) must not be below openMs (${options.openMs})`);
  }
  if (problems.length > 0) {
    throw new RangeError(`Invalid breaker options for "${options.name}": ${problems.join('; ')}`);
  }
}
