import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { AdmissionConfig } from '../../config/rampart-config.js';
import { OverloadedException, toErrorResponse } from '../../core/errors/index.js';
import { CORRELATION_HEADER, pickCorrelationId } from '../../observability/correlation.js';
import { AdaptiveLimit } from './adaptive-limit.js';
import { Bulkhead, type BulkheadOptions, type BulkheadSnapshot } from './bulkhead.js';
import { laneOf, type Lane } from './lanes.js';

export type ShedReason = 'queue_full' | 'queue_timeout' | 'displaced' | 'priority_budget' | 'event_loop_lag' | 'shedding' | 'bulkhead';

/** What the access log and the RED metrics need of a refusal (they are wired in bootstrap). */
export interface Refusal {
  req: IncomingMessage;
  lane: Lane;
  reason: ShedReason;
  correlationId: string;
  /** From the admission decision (arrival, or entering the queue) to the answer. */
  ms: number;
}

/** A bulkhead whose work a request line predicts (`POST /api/auth/login` hashes a password). */
interface EarlyBulkhead {
  bulkhead: Bulkhead;
  routes: ReadonlySet<string>;
}

export interface AdmissionSnapshot {
  enabled: boolean;
  /** The general lanes' current concurrency limit; null while admission control is off. */
  limit: number | null;
  inFlight: number;
  queued: number;
  priorityInFlight: number;
  /** Share of general-lane requests refused over the last second. */
  shedRate: number;
  shedding: boolean;
  admitted: ReadonlyMap<Lane, number>;
  /** Keyed `lane|reason`. */
  shed: ReadonlyMap<string, number>;
  bulkheads: BulkheadSnapshot[];
}

export interface AdmissionSources {
  /** Windowed event-loop lag in ms (the health probe's own reading). */
  lagMs: () => number;
  /**
   * Share of one core this process used since the last call. Lag while the process itself is
   * nearly idle comes from elsewhere (a starved VM, a noisy neighbour): refusing our own work
   * would not give the loop any time back. Absent: every lag counts.
   */
  cpuShare?: () => number;
  /**
   * Share of wall time the event loop was busy since the last call (event-loop utilisation).
   * Absent: always saturated, latency alone drives the limit.
   */
  loopBusy?: () => number;
}

/** Loop busy at least this share of a window: the worker is saturated (see `LimitWindow.saturated`). */
const SATURATED_LOOP = 0.85;

/** A `loopBusy` source from `performance.eventLoopUtilization`. */
export function eventLoopBusy(): () => number {
  let last = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const delta = performance.eventLoopUtilization(now, last);
    last = now;
    return delta.utilization;
  };
}

/** Lag counts as ours only while the process used at least this share of a core. */
const BUSY_CPU_SHARE = 0.5;

/** A `cpuShare` source from `process.cpuUsage` (all threads: the loop, GC, the libuv pool). */
export function processCpuShare(now: () => number = () => performance.now()): () => number {
  let last = process.cpuUsage();
  let lastAt = now();
  return () => {
    const usage = process.cpuUsage();
    const at = now();
    const share = at > lastAt ? (usage.user - last.user + usage.system - last.system) / 1000 / (at - lastAt) : 0;
    last = usage;
    lastAt = at;
    return share;
  };
}

type Next = (error?: unknown) => void;

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

interface Waiter {
  req: IncomingMessage;
  res: ServerResponse;
  next: Next;
  lane: Lane;
  enqueuedAt: number;
  deadline: number;
}

const WINDOW_MS = 100;
const MIN_SAMPLES = 5;
const SHEDDING_QUIET_MS = 1000;
const RATE_WINDOWS = 10;
const RETRY_AFTER_MS = 1000;
/** Arrivals over completions beyond which the worker counts as overloaded (see `isOverloaded`). */
const OVERLOAD_RATIO = 1.1;
// One instance for every refusal: building an Error (and its stack) per refused request is
// work the refusal exists to avoid; only the correlation id differs between answers.
const OVERLOADED = new OverloadedException(RETRY_AFTER_MS);

/**
 * The refusal's answer, built once through the one envelope (toErrorResponse): per refusal only
 * the correlation id is spliced into the body, and the headers are a flat list Node writes
 * without re-validating an object.
 */
const REFUSAL = (() => {
  const marker = 'correlation-id-marker';
  const { status, body, headers } = toErrorResponse(OVERLOADED, marker);
  const [before, after] = JSON.stringify(body).split(JSON.stringify(marker)) as [string, string];
  const fixed: string[] = [];
  for (const [name, value] of Object.entries({ ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' })) fixed.push(name, value);
  return { status, before, after, fixed };
})();

/**
 * Admission control in front of the whole pipeline, per worker: the server's request listener
 * (`gate`, ahead of Express), so a refusal costs no routing, no session read, no Redis and no
 * database work. General requests run within
 * an adaptive concurrency limit; the excess waits in a short queue (CoDel-style: a request that
 * would be served late is refused instead) where signed-in and sign-in requests go before
 * anonymous ones. Metrics and the operators' /admin have their own small budget, and probes are
 * never refused (see `Lane`): neither is shed by the general limit. Written here rather than taken from npm: the pieces that
 * exist are either Express-agnostic libraries with their own queues and timers per request, or
 * binary "under pressure" switches without a limit or lanes, and this is under 300 lines.
 */
export class AdmissionController {
  private readonly limiter: AdaptiveLimit;
  private readonly preferred: Waiter[] = [];
  private readonly anonymous: Waiter[] = [];
  private inFlight = 0;
  private priorityInFlight = 0;
  private peakInFlight = 0;
  /** Smoothed mean service time of admitted requests (ms); 0 until measured. */
  private serviceMs = 0;
  /** Longest wait for a database connection since the limit last moved. */
  private poolWaitMaxMs = 0;
  private poolWaitLongMs = Infinity;
  /** CPU share of the ticks since the limit last moved (their mean is the window's). */
  private windowCpuSum = 0;
  private windowTicks = 0;
  private rttSumMs = 0;
  private rttCount = 0;
  private windowStartedAt: number;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweepAt = Infinity;
  private lagging = false;
  private shedding = false;
  private sheddingSince = 0;
  private lastShedAt = 0;
  private shedInEpisode = 0;
  private readonly admittedCounts = new Map<Lane, number>();
  private readonly shedCounts = new Map<string, number>();
  private readonly recent: { admitted: number; shed: number; arrived: number; finished: number }[] = [];
  private windowAdmitted = 0;
  private windowShed = 0;
  /** General-lane requests that reached the gate (admitted, queued or refused) in this window. */
  private windowArrived = 0;
  /** Admitted requests that finished in this window. */
  private windowFinished = 0;
  /** See `isOverloaded`; updated every window. */
  private overloaded = false;
  private readonly bulkheadList: Bulkhead[] = [];
  private readonly queueListeners: ((seconds: number, lane: Lane, admitted: boolean) => void)[] = [];
  private readonly refusalListeners: ((refusal: Refusal) => void)[] = [];
  private readonly early: EarlyBulkhead[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: AdmissionConfig,
    private readonly sources: AdmissionSources,
    private readonly logger: Pick<Logger, 'info' | 'warn'>,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.limiter = new AdaptiveLimit({ initial: config.initialLimit, min: config.minLimit, max: config.maxLimit });
    this.windowStartedAt = now();
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), WINDOW_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.sweepTimer);
    this.timer = undefined;
  }

  /**
   * The request pool's size (see `AdaptiveLimit.poolConnections`) and DB_POOL_TIMEOUT_MS; then
   * report every wait for a connection through `poolWaited`.
   */
  watchPool(connections: number, timeoutMs: number): void {
    this.limiter.poolConnections = connections;
    this.poolWaitLongMs = Math.max(this.config.queueIntervalMs, timeoutMs / 4);
  }

  /** A request waited this long for a database connection (the pool reports each checkout). */
  poolWaited(ms: number): void {
    if (ms > this.poolWaitMaxMs) this.poolWaitMaxMs = ms;
  }

  /**
   * `routes` (`METHOD /path`, exact) are the requests that will run this bulkhead's work: while
   * it is full (every slot busy and its queue full) they are refused here, before their
   * session, CSRF and database work, instead of after it when the work would start.
   */
  bulkhead(name: string, options: BulkheadOptions, routes: readonly string[] = []): Bulkhead {
    const bulkhead = new Bulkhead(name, options);
    this.bulkheadList.push(bulkhead);
    if (routes.length > 0) this.early.push({ bulkhead, routes: new Set(routes) });
    return bulkhead;
  }

  /** Called once per refused request, after its answer is written; must be cheap. */
  onRefused(listener: (refusal: Refusal) => void): void {
    this.refusalListeners.push(listener);
  }

  /**
   * The server's request listener with admission in front: a refusal is answered before
   * Express builds its request and response, routes, or runs any middleware.
   */
  gate(handler: (req: IncomingMessage, res: ServerResponse) => void): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => this.middleware(req, res, () => handler(req, res));
  }

  onQueueTime(listener: (seconds: number, lane: Lane, admitted: boolean) => void): void {
    this.queueListeners.push(listener);
  }

  get limit(): number | null {
    return this.config.enabled ? this.limiter.limit : null;
  }

  snapshot(): AdmissionSnapshot {
    let admitted = this.windowAdmitted;
    let shed = this.windowShed;
    for (const window of this.recent) {
      admitted += window.admitted;
      shed += window.shed;
    }
    return {
      enabled: this.config.enabled,
      limit: this.limit,
      inFlight: this.inFlight,
      queued: this.preferred.length + this.anonymous.length,
      priorityInFlight: this.priorityInFlight,
      shedRate: admitted + shed === 0 ? 0 : Math.round((shed / (admitted + shed)) * 1000) / 1000,
      shedding: this.shedding,
      admitted: this.admittedCounts,
      shed: this.shedCounts,
      bulkheads: this.bulkheadList.map((b) => b.snapshot()),
    };
  }

  /** Connect-style; `gate` puts it in front of the server's handler. */
  readonly middleware = (req: IncomingMessage, res: ServerResponse, next: Next): void => {
    const lane = laneOf(req);
    if (lane === 'probe') {
      this.count(this.admittedCounts, lane);
      return next();
    }
    if (lane === 'priority') {
      if (this.config.enabled && this.priorityInFlight >= this.config.priorityLimit) return this.refuse(req, res, lane, 'priority_budget');
      this.priorityInFlight += 1;
      res.on('close', () => {
        this.priorityInFlight -= 1;
      });
      this.count(this.admittedCounts, lane);
      return next();
    }
    if (lane !== 'stream') this.windowArrived += 1;
    if (lane === 'signin' && this.config.enabled && this.early.length > 0) {
      const route = `${req.method ?? ''} ${pathOf(req.url ?? '/')}`;
      for (const { bulkhead, routes } of this.early) {
        if (routes.has(route) && bulkhead.full()) {
          bulkhead.countRefusal();
          return this.refuse(req, res, lane, 'bulkhead');
        }
      }
    }
    if (lane === 'stream') {
      // A stream stays open for minutes: it never counts against the limit (SSE_MAX_SUBSCRIBERS
      // caps streams), but no new one opens while the worker sheds.
      if (this.config.enabled && this.shedding) return this.refuse(req, res, lane, 'shedding');
      this.count(this.admittedCounts, lane);
      return next();
    }
    if (!this.config.enabled || (this.inFlight < this.limiter.limit && this.queueLength() === 0)) return this.admit(req, res, next, lane, null);
    this.enqueue({ req, res, next, lane, enqueuedAt: this.now(), deadline: 0 });
  };

  private admit(req: IncomingMessage, res: ServerResponse, next: Next, lane: Lane, enqueuedAt: number | null): void {
    const started = this.now();
    if (enqueuedAt !== null) for (const listener of this.queueListeners) listener((started - enqueuedAt) / 1000, lane, true);
    this.inFlight += 1;
    if (this.inFlight > this.peakInFlight) this.peakInFlight = this.inFlight;
    this.windowAdmitted += 1;
    this.count(this.admittedCounts, lane);
    // A response closes once; a plain listener spares once()'s wrapper and removal per request.
    res.on('close', () => {
      this.inFlight -= 1;
      this.windowFinished += 1;
      // Sign-in costs an argon2 hash by design; its bulkhead bounds it, and its latency would
      // only teach the limit that every request is slow.
      if (lane !== 'signin' && res.writableFinished) {
        this.rttSumMs += this.now() - started;
        this.rttCount += 1;
      }
      this.drain();
    });
    next();
  }

  private enqueue(waiter: Waiter): void {
    const { queueSize, queueTargetMs, queueIntervalMs } = this.config;
    // Two modes, after CoDel's: while more requests arrive than finish (an open stream the
    // worker cannot keep up with) or the loop lags, a request may wait only the short target;
    // otherwise the interval. CoDel's own test, a queue that has not emptied for an interval,
    // cannot tell that stream from users who each wait for their answer before sending again:
    // their queue never empties either, yet it cannot grow, and refusing them only turns a
    // wait of a few milliseconds into an error and a retry.
    const maxWait = this.lagging || this.overloaded ? queueTargetMs : queueIntervalMs;
    const now = waiter.enqueuedAt;
    const ahead = waiter.lane === 'anonymous' ? this.queueLength() : this.preferred.length;
    // A request that would wait past its time is refused now rather than at its deadline: the
    // queue is as long as what the limit serves within the wait (from the measured service
    // time), so under sustained overload refusals are immediate and cost no timer.
    const tooLate = this.serviceMs > 0 && ((ahead + 1) * this.serviceMs) / this.limiter.limit > maxWait;
    if (tooLate || this.queueLength() >= queueSize) {
      const victim = waiter.lane !== 'anonymous' ? this.anonymous.pop() : undefined;
      if (victim === undefined || tooLate) {
        if (victim !== undefined) this.anonymous.push(victim);
        return this.refuse(waiter.req, waiter.res, waiter.lane, this.lagging ? 'event_loop_lag' : 'queue_full');
      }
      this.refuseWaiter(victim, 'displaced');
    }
    waiter.deadline = now + maxWait;
    (waiter.lane === 'anonymous' ? this.anonymous : this.preferred).push(waiter);
    this.scheduleSweep(waiter.deadline);
  }

  private drain(): void {
    const now = this.now();
    while (this.inFlight < this.limiter.limit) {
      const waiter = this.preferred.shift() ?? this.anonymous.shift();
      if (waiter === undefined) break;
      if (waiter.res.destroyed) continue;
      if (now > waiter.deadline) this.refuseWaiter(waiter, 'queue_timeout');
      else this.admit(waiter.req, waiter.res, waiter.next, waiter.lane, waiter.enqueuedAt);
    }
  }

  private scheduleSweep(deadline: number): void {
    if (deadline >= this.sweepAt) return;
    clearTimeout(this.sweepTimer);
    this.sweepAt = deadline;
    this.sweepTimer = setTimeout(() => this.sweep(), Math.max(0, deadline - this.now()) + 1);
    this.sweepTimer.unref();
  }

  /** Refuses the waiters whose time is up even when no slot frees (the slow case). */
  private sweep(): void {
    this.sweepAt = Infinity;
    const now = this.now();
    let next = Infinity;
    for (const queue of [this.preferred, this.anonymous]) {
      for (let i = 0; i < queue.length; ) {
        const waiter = queue[i]!;
        if (now >= waiter.deadline || waiter.res.destroyed) {
          queue.splice(i, 1);
          if (!waiter.res.destroyed) this.refuseWaiter(waiter, 'queue_timeout');
        } else {
          next = Math.min(next, waiter.deadline);
          i += 1;
        }
      }
    }
    if (this.queueLength() > 0) this.scheduleSweep(next);
  }

  private refuseWaiter(waiter: Waiter, reason: ShedReason): void {
    for (const listener of this.queueListeners) listener((this.now() - waiter.enqueuedAt) / 1000, waiter.lane, false);
    this.refuse(waiter.req, waiter.res, waiter.lane, reason, waiter.enqueuedAt);
  }

  private refuse(req: IncomingMessage, res: ServerResponse, lane: Lane, reason: ShedReason, since: number | null = null): void {
    this.count(this.shedCounts, `${lane}|${reason}`);
    if (lane !== 'priority' && lane !== 'probe') this.windowShed += 1;
    this.lastShedAt = this.now();
    this.shedInEpisode += 1;
    if (!this.shedding) {
      this.shedding = true;
      this.sheddingSince = this.lastShedAt;
      this.logger.warn(
        { limit: this.limiter.limit, inFlight: this.inFlight, queued: this.queueLength(), lane, reason, lagMs: this.sources.lagMs() },
        'admission control: shedding load (answering 503 OVERLOADED)',
      );
    }
    const correlationId = pickCorrelationId(req);
    const payload = REFUSAL.before + JSON.stringify(correlationId) + REFUSAL.after;
    res.writeHead(REFUSAL.status, [...REFUSAL.fixed, CORRELATION_HEADER, correlationId, 'Content-Length', String(Buffer.byteLength(payload))]);
    res.end(payload);
    if (this.refusalListeners.length > 0) {
      const refusal: Refusal = { req, lane, reason, correlationId, ms: since === null ? 0 : this.now() - since };
      for (const listener of this.refusalListeners) listener(refusal);
    }
  }

  private tick(): void {
    const now = this.now();
    const lagMs = this.sources.lagMs();
    const cpuShare = this.sources.cpuShare?.() ?? 1;
    this.windowCpuSum += cpuShare;
    this.windowTicks += 1;
    this.lagging = this.config.enabled && lagMs > this.config.shedLagMs && cpuShare >= BUSY_CPU_SHARE;
    const enough = this.rttCount >= MIN_SAMPLES || now - this.windowStartedAt >= 10 * WINDOW_MS;
    // Lag moves the limit at once, both ways: cut while it lasts, back to the floor when it ends.
    if (this.rttCount > 0) {
      const mean = this.rttSumMs / this.rttCount;
      this.serviceMs = this.serviceMs === 0 ? mean : this.serviceMs * 0.7 + mean * 0.3;
    }
    if (this.config.enabled && (enough || this.lagging || this.limiter.limit < this.config.minLimit)) {
      this.limiter.update({
        meanRttMs: this.rttCount === 0 ? null : this.rttSumMs / this.rttCount,
        peakInFlight: this.peakInFlight,
        lagging: this.lagging,
        // A connection wait a quarter of the way to DB_POOL_TIMEOUT_MS: refusing at the door
        // beats queueing in the pool towards DB_POOL_EXHAUSTED. Shorter waits are the pool
        // doing its job (a closed loop of users may keep it busy without overloading it).
        poolWaiting: this.poolWaitMaxMs >= this.poolWaitLongMs,
        // A busy loop that got little CPU is a starved machine, not our own load (the same
        // guard as for lag): refusing would not give it time back.
        saturated: (this.sources.loopBusy?.() ?? 1) >= SATURATED_LOOP && this.windowCpuSum / Math.max(1, this.windowTicks) >= BUSY_CPU_SHARE,
      });
      this.windowCpuSum = 0;
      this.windowTicks = 0;
      this.rttSumMs = 0;
      this.rttCount = 0;
      this.poolWaitMaxMs = 0;
      this.peakInFlight = this.inFlight;
      this.windowStartedAt = now;
      // A raised limit lets waiters in without waiting for the next completion.
      this.drain();
    }
    this.recent.push({ admitted: this.windowAdmitted, shed: this.windowShed, arrived: this.windowArrived, finished: this.windowFinished });
    if (this.recent.length > RATE_WINDOWS - 1) this.recent.shift();
    this.windowAdmitted = 0;
    this.windowShed = 0;
    this.windowArrived = 0;
    this.windowFinished = 0;
    this.overloaded = this.isOverloaded();
    if (this.shedding && now - this.lastShedAt >= SHEDDING_QUIET_MS) {
      this.shedding = false;
      this.logger.info(
        { refused: this.shedInEpisode, durationMs: Math.round(this.lastShedAt - this.sheddingSince), limit: this.limiter.limit },
        'admission control: shedding stopped',
      );
      this.shedInEpisode = 0;
    }
  }

  /**
   * More general requests arrived than finished over the last second, by more than a tenth and
   * more than the queue holds: the excess can only pile up. Refusals count as arrivals, so
   * shedding does not hide the stream that caused it. Users who wait for their answers never
   * trip it, however many: arrivals track completions.
   */
  private isOverloaded(): boolean {
    let arrived = 0;
    let finished = 0;
    for (const window of this.recent) {
      arrived += window.arrived;
      finished += window.finished;
    }
    return arrived > finished * OVERLOAD_RATIO + this.config.queueSize;
  }

  private queueLength(): number {
    return this.preferred.length + this.anonymous.length;
  }

  private count<K>(map: Map<K, number>, key: K): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }
}
