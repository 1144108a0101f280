import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { CrashCounter, fullJitterDelayMs } from './backoff.js';
import {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  parseWorkerMessage,
  STOP_TEARDOWN_MARGIN_MS,
  TELEMETRY_BUCKET_MS,
  TELEMETRY_EXITED_KEPT,
  WORKER_ENV,
  type EmptySlotReason,
  type EmptySlotView,
  type LogLevelMessage,
  type LogLevelOverride,
  type SetLogLevelRequest,
  type PolicyEvaluation,
  type PolicyState,
  type PrimaryToWorker,
  type RestartKind,
  type RollingRestartRequest,
  type RolloutCode,
  type RolloutResult,
  type SupervisorStatus,
  type WatchdogVerdict,
  type WorkerRequestMessage,
  type WorkerState,
  type WorkerStatus,
  type LogLine,
  type TelemetryRequest,
  type TelemetryView,
  type WorkerExitView,
  type WorkerTelemetry,
} from './protocol.js';
import { TelemetryStore } from './telemetry-store.js';
import { RestartPolicy } from './restart-policy.js';
import { StopSignalGate } from './stop-signals.js';

/**
 * The cluster primary. It owns the workers, the restart history and the churn policy; workers
 * ask it over IPC (worker-channel.ts) for status and rolling restarts.
 *
 * Invariants:
 * - A rolling restart replaces one worker at a time with one extra: the replacement must send
 *   its application-level `ready` before the old worker is told to drain, so capacity never dips
 *   and the listening port (held by the primary's round-robin handle) never closes.
 * - A replacement that does not become ready within `readyTimeoutMs` is retired, the rollout
 *   stops as `failed`, and the old workers keep serving.
 * - At most one rollout runs; a second request joins it (`alreadyRunning: true`).
 * - Automatic restarts (watchdog, crash) consult the churn policy:
 *     allowed      -> restart now (crashes: after the jittered backoff);
 *     cooling_down -> wait for the cooldown to end;
 *     blocked      -> wait for the block to lift, but never longer than `blockedMaxWaitMs`
 *                     (logged at error once with the operator's options).
 * - Zero serving workers is an outage no policy was meant to cause: when no other worker serves
 *   (ready and heartbeating) or is being started, a crashed slot is refilled at once, whatever
 *   the policy, cooldown or backoff say, and a stuck worker is replaced at once. Only a slot
 *   whose last start already failed waits a short capped backoff (EMPTY_RETRY_MAX_MS), so a
 *   worker that cannot start (database down) is retried every few seconds, not in a hot loop.
 * - Manual restarts are refused with RESTART_BLOCKED while blocked unless acknowledgeOverride is
 *   true. SIGHUP counts as acknowledged: whoever can signal the primary has host access, and
 *   when every worker is stuck the admin API (which runs in the workers) cannot be reached.
 * - A rollout is one entry in the restart history (one operator decision, however many workers
 *   it replaces), planned: it is shown but not counted toward churn (restart-policy.ts). Each
 *   watchdog or crash replacement is one counted entry.
 * - Recycling (maxRssBytes / maxRequests, PM2's max_memory_restart and Gunicorn's max_requests
 *   without their faults): a healthy worker over its limit is replaced through the same path as
 *   a rolling restart (replacement ready before the old one drains), never abruptly; one slot at
 *   a time, never while a rollout runs or any slot is empty or being replaced, never a worker
 *   younger than recycleMinUptimeMs (a limit below a fresh worker's footprint would otherwise
 *   loop); each worker's request limit is jittered so workers started together do not all go
 *   together. Recorded as planned (`recycle`), never counted toward churn; not while blocked.
 * - Stopping (SIGTERM/SIGINT to the primary or the whole process group, or stop()): every
 *   worker gets the service's drain delay (readiness `shutting_down` while serving), then
 *   closes its listener, finishes in-flight requests and exits; the port closes when the last
 *   one has. The exit code is 1 when any worker had to be killed or reported a forced drain.
 *
 * Keep this file free of decorators and TS-only runtime syntax: tests compile src/cluster with
 * SWC and fork it as plain ESM.
 */

export interface SupervisorLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/** The part of `cluster.Worker` the supervisor uses; unit tests provide a fake. */
export interface WorkerHandle {
  readonly id: number;
  readonly process: { readonly pid?: number | undefined; kill(signal?: NodeJS.Signals | number): boolean };
  send(message: PrimaryToWorker): boolean;
  disconnect(): void;
  isConnected(): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'exit', listener: (code: number | null, signal: string | null) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

export interface ClusterPrimary {
  setupPrimary(settings: { exec: string; args: string[]; silent: boolean }): void;
  fork(env: Record<string, string>): WorkerHandle;
}

export interface SupervisorOptions {
  workers: number;
  /** The worker entry (JS). Workers listen on their port themselves; the primary shares it. */
  exec: string;
  args?: string[];
  /** Extra environment for workers, on top of the primary's own. */
  env?: Record<string, string>;
  readyTimeoutMs: number;
  drainTimeoutMs: number;
  watchdogTimeoutMs: number;
  lagThresholdMs: number;
  lagBeats: number;
  churnWindowS: number;
  churnMax: number;
  cooldownS: number;
  crashBackoffBaseMs: number;
  crashBackoffMaxMs: number;
  logger: SupervisorLogger;
  now?: () => number;
  /** Heartbeat period told to workers (env RAMPART_CLUSTER_HEARTBEAT_MS). Default 1000. */
  heartbeatIntervalMs?: number;
  /** Kill bound for a worker whose heartbeat is missing: it cannot drain. Default 1000. */
  stuckKillMs?: number;
  /** Watchdog tick. Default: a quarter of watchdogTimeoutMs, within 50..heartbeatIntervalMs. */
  watchdogIntervalMs?: number;
  /** Install SIGHUP (rolling restart) and SIGTERM/SIGINT (graceful stop) handlers. Default true. */
  handleSignals?: boolean;
  /** Called after a signal-initiated stop: 0 clean, 1 when anything had to be forced. Default process.exit. */
  exit?: (code: number) => void;
  /**
   * SHUTDOWN_DRAIN_DELAY_MS: on stop, how long workers keep serving with readiness
   * `shutting_down` before closing their listeners. Default 0.
   */
  stopDrainDelayMs?: number;
  /** RESTART_BLOCKED_MAX_WAIT_S in ms: longest a crashed slot stays empty while blocked. Default 120 000. */
  blockedMaxWaitMs?: number;
  /** Pipe worker stdio to the primary instead of inheriting it. Default false. */
  silent?: boolean;
  random?: () => number;
  /** Defaults to node:cluster with round-robin scheduling. */
  cluster?: ClusterPrimary;
  /**
   * Answers a worker's `metrics` request (one scrape for the whole cluster). Injected so this
   * folder stays free of the metrics library; without it the request is refused.
   */
  collectMetrics?: () => Promise<string>;
  /** The primary's own recent warn/error lines (a crash is logged here), for the console. */
  recentLogs?: () => LogLine[];
  /** Told about every restart as it is recorded (metrics count them by kind). */
  onRestart?: (kind: RestartKind) => void;
  /** Told when a runtime log level starts (level) or ends (null), for the primary's own logger. */
  onLogLevel?: (level: string | null) => void;
  /** WORKER_MAX_RSS_MB in bytes: recycle a worker whose last heartbeat RSS exceeds it. 0/absent = off. */
  maxRssBytes?: number;
  /** WORKER_MAX_REQUESTS: recycle a worker after about this many requests. 0/absent = off. */
  maxRequests?: number;
  /** Fraction each worker's request limit is jittered by, either way. Default 0.1. */
  recycleJitter?: number;
  /** A worker younger than this (since ready) is never recycled. Default 60 000. */
  recycleMinUptimeMs?: number;
}

export type RolloutHandle = { result: RolloutResult; done: Promise<RolloutResult> };

/** How a stop went: `forced` when any worker was killed at its bound or reported a forced drain. */
export interface StopReport {
  forced: boolean;
  /** Workers SIGKILLed at the bound. */
  killed: number;
  /** Workers that exited non-zero (their own drain had to cut something) or by a signal. */
  unclean: number;
}

type ReadyOutcome = 'ready' | 'timeout' | 'exited';
type StepFailure = { ok: false; code: RolloutCode; message: string };
type StepOutcome = { ok: true } | StepFailure;
type Notice = 'blocked' | 'cooling_down' | null;

interface Tracked {
  readonly handle: WorkerHandle;
  readonly id: number;
  readonly pid: number | null;
  readonly slot: Slot;
  readonly startedAt: number;
  state: WorkerState;
  readyAt: number | null;
  lastHeartbeatAt: number | null;
  lagMs: number | null;
  lagBeatsOver: number;
  /** Set once we asked it to go: its exit is not a crash. */
  expectedExit: boolean;
  /** It announced a stop signal of its own (`stopping`): refill the slot when it exits. */
  selfStopping: boolean;
  exited: boolean;
  exitCode: number | null;
  exitSignal: string | null;
  /** When the watchdog first found it stuck while restarts were held back (bounds the wait). */
  heldSince: number | null;
  /** Last watchdog complaint already logged, so a stuck worker is reported once, not per tick. */
  notice: Notice;
  /** From the last heartbeat. */
  rssBytes: number | null;
  /** Consecutive heartbeats with RSS over maxRssBytes: one spike (a big report) is not a leak. */
  rssOverBeats: number;
  requests: number | null;
  heapUsedBytes: number | null;
  /** This worker's jittered WORKER_MAX_REQUESTS, or null when off. */
  requestLimit: number | null;
  /** Its history for the console, kept after it exits (bounded, see TelemetryStore). */
  readonly telemetry: TelemetryStore;
  readyWaiters: Array<(outcome: ReadyOutcome) => void>;
  exitWaiters: Array<() => void>;
}

interface Slot {
  readonly index: number;
  current: Tracked | null;
  replacement: Tracked | null;
  /** The last worker to occupy the slot, shown as `stopped` while the slot is empty. */
  last: Tracked | null;
  restarts: number;
  /** How the slot's last worker to go ended (shown on its successor's row). */
  lastExit: WorkerExitView | null;
  /** A replace/fill operation owns the slot; nobody else may fork into it. */
  busy: boolean;
  recoveryTimer: NodeJS.Timeout | null;
  /** Why the slot is empty and when the pending recovery forks, for status. */
  pending: { reason: EmptySlotReason; dueAt: number; since: number } | null;
  /** The slot's last start did not become ready: an empty-cluster refill backs off a little. */
  lastStartFailed: boolean;
}

const KILL_WAIT_MS = 5000;
/** Ceiling of the backoff for refilling the last slot when its previous start failed. */
const EMPTY_RETRY_MAX_MS = 2000;
const DEFAULT_BLOCKED_MAX_WAIT_MS = 120_000;
const MAX_REASON_LENGTH = 500;
const DEFAULT_RECYCLE_JITTER = 0.1;
/** Heartbeats in a row over WORKER_MAX_RSS_MB before a worker is recycled (about 3 s). */
export const RSS_OVER_BEATS = 3;
const DEFAULT_RECYCLE_MIN_UPTIME_MS = 60_000;
/** After a recycle whose replacement failed to start, no recycling for this long. */
const RECYCLE_FAILURE_HOLD_MS = 60_000;

/** `max` moved by up to ±jitter·max, at least 1: spreads recycling of workers started together. */
export function jitteredLimit(max: number, jitter: number, random: () => number): number {
  return Math.max(1, Math.round(max * (1 + jitter * (2 * random() - 1))));
}
export const OPERATOR_ACTION =
  'investigate the worker logs; to restart anyway call POST /admin/api/worker/restart with ' +
  'acknowledgeOverride: true and a reason (or send SIGHUP to the primary); automatic recovery ' +
  'resumes by itself when the churn window drains, and an empty slot is refilled after ' +
  'RESTART_BLOCKED_MAX_WAIT_S at the latest';

function nodeCluster(): ClusterPrimary {
  return {
    setupPrimary(settings) {
      // Round-robin in the primary: a worker that closes its listener is removed from the
      // rotation at once, and a connection already handed to a closing worker is handed on.
      cluster.schedulingPolicy = cluster.SCHED_RR;
      cluster.setupPrimary(settings);
    },
    fork: (env) => cluster.fork(env),
  };
}

/** Read through a function: TS narrows `slot.current` across awaits that do change it. */
function currentPid(slot: Slot): number | null {
  return slot.current?.pid ?? null;
}

function positive(name: string, value: number, integer = false): number {
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new RangeError(`Supervisor: ${name} must be a positive ${integer ? 'integer' : 'number'} (got ${value})`);
  }
  return value;
}

export class Supervisor {
  private readonly options: SupervisorOptions;
  private readonly log: SupervisorLogger;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly cluster: ClusterPrimary;
  private readonly policy: RestartPolicy;
  private readonly crashes: CrashCounter;
  private readonly slots: Slot[];
  private readonly live = new Set<Tracked>();
  /** Workers that exited, newest last, kept for their history and last log lines. */
  private readonly exitedHistory: Tracked[] = [];
  private readonly heartbeatIntervalMs: number;
  private readonly stuckKillMs: number;
  private readonly watchdogIntervalMs: number;
  private readonly exit: (code: number) => void;
  private readonly stopDrainDelayMs: number;
  private readonly blockedMaxWaitMs: number;
  private readonly startedAtMs: number;
  private started = false;
  private shuttingDown = false;
  private stopping: Promise<StopReport> | null = null;
  private tickTimer: NodeJS.Timeout | null = null;
  private activeRollout: RolloutHandle | null = null;
  private lastRollout: RolloutResult | null = null;
  private lastPolicyState: PolicyState = 'allowed';
  /** The recycle in progress (at most one). */
  private recycling: Promise<void> | null = null;
  private recycleHoldUntil = 0;
  /** The runtime log level every process runs at until `untilMs`, or null (LOG_LEVEL). */
  private logOverride: (LogLevelOverride & { untilMs: number }) | null = null;
  private logRevertTimer: NodeJS.Timeout | null = null;
  private readonly signalHandlers: Array<[NodeJS.Signals, (signal: NodeJS.Signals) => void]> = [];

  constructor(options: SupervisorOptions) {
    positive('workers', options.workers, true);
    if (typeof options.exec !== 'string' || options.exec.length === 0) throw new TypeError('Supervisor: exec is required');
    positive('readyTimeoutMs', options.readyTimeoutMs);
    positive('drainTimeoutMs', options.drainTimeoutMs);
    positive('watchdogTimeoutMs', options.watchdogTimeoutMs);
    positive('lagThresholdMs', options.lagThresholdMs);
    positive('lagBeats', options.lagBeats, true);
    positive('crashBackoffBaseMs', options.crashBackoffBaseMs);
    positive('crashBackoffMaxMs', options.crashBackoffMaxMs);
    this.options = options;
    this.log = options.logger;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.cluster = options.cluster ?? nodeCluster();
    this.policy = new RestartPolicy({ windowS: options.churnWindowS, max: options.churnMax, cooldownS: options.cooldownS });
    this.crashes = new CrashCounter(options.churnWindowS);
    this.heartbeatIntervalMs = positive('heartbeatIntervalMs', options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS, true);
    this.stuckKillMs = positive('stuckKillMs', options.stuckKillMs ?? 1000);
    this.watchdogIntervalMs = positive(
      'watchdogIntervalMs',
      options.watchdogIntervalMs ?? Math.max(50, Math.min(this.heartbeatIntervalMs, Math.floor(options.watchdogTimeoutMs / 4))),
    );
    this.exit = options.exit ?? ((code) => process.exit(code));
    this.stopDrainDelayMs = Math.max(0, options.stopDrainDelayMs ?? 0);
    this.blockedMaxWaitMs = positive('blockedMaxWaitMs', options.blockedMaxWaitMs ?? DEFAULT_BLOCKED_MAX_WAIT_MS);
    this.startedAtMs = this.now();
    this.slots = Array.from({ length: options.workers }, (_, index) => ({
      index,
      current: null,
      replacement: null,
      last: null,
      restarts: 0,
      lastExit: null,
      busy: false,
      recoveryTimer: null,
      pending: null,
      lastStartFailed: false,
    }));
  }

  /** Forks the workers and resolves once each has become ready or failed its first start. */
  async start(): Promise<{ ready: number; failed: number }> {
    if (this.started) throw new Error('Supervisor already started');
    if (!this.options.cluster && !cluster.isPrimary) throw new Error('Supervisor must run in the cluster primary');
    this.started = true;
    this.cluster.setupPrimary({ exec: this.options.exec, args: this.options.args ?? [], silent: this.options.silent ?? false });
    if (this.options.handleSignals ?? true) this.installSignalHandlers();
    this.tickTimer = setInterval(() => this.tick(), this.watchdogIntervalMs);
    this.log.info(
      { workers: this.options.workers, exec: this.options.exec, policy: this.policy.evaluate(this.now()) },
      'supervisor starting workers',
    );
    const outcomes = await Promise.all(this.slots.map((slot) => this.fillSlot(slot, 'initial')));
    const ready = outcomes.filter((outcome) => outcome.ok).length;
    this.log.info({ ready, failed: outcomes.length - ready }, 'supervisor started');
    return { ready, failed: outcomes.length - ready };
  }

  /** Starts (or joins) a rolling restart and resolves when it has finished or was refused. */
  rollingRestart(request: RollingRestartRequest): Promise<RolloutResult> {
    return this.beginRollingRestart(request).done;
  }

  /** Like rollingRestart, but also returns the immediate verdict (`running` or `rejected`). */
  beginRollingRestart(request: RollingRestartRequest): RolloutHandle {
    if (this.activeRollout) {
      return { result: { ...this.activeRollout.result, alreadyRunning: true }, done: this.activeRollout.done };
    }
    const now = this.now();
    const evaluation = this.policy.evaluate(now);
    const reason = (typeof request.reason === 'string' ? request.reason : '').trim().slice(0, MAX_REASON_LENGTH);
    const restartId = request.restartId && request.restartId.length <= 200 ? request.restartId : randomUUID();
    const base: RolloutResult = {
      restartId,
      reason,
      status: 'running',
      code: null,
      message: null,
      override: false,
      alreadyRunning: false,
      startedAt: new Date(now).toISOString(),
      finishedAt: null,
      total: this.slots.length,
      replaced: 0,
      skipped: 0,
      policy: evaluation,
    };
    const refuse = (code: RolloutCode, message: string): RolloutHandle => {
      const result: RolloutResult = { ...base, status: 'rejected', code, message, total: 0, finishedAt: base.startedAt };
      this.log.warn({ restartId, reason, code, requestedBy: request.requestedBy, policy: evaluation }, `rolling restart refused: ${message}`);
      return { result, done: Promise.resolve({ ...result }) };
    };
    if (!this.started || this.shuttingDown) return refuse('SHUTTING_DOWN', 'the supervisor is not running or is shutting down');
    if (reason.length === 0) return refuse('INVALID_REQUEST', 'a reason is required');
    if (evaluation.state === 'blocked' && request.acknowledgeOverride !== true) {
      return refuse('RESTART_BLOCKED', evaluation.nextAction);
    }
    const result: RolloutResult = { ...base, override: evaluation.state === 'blocked' };
    this.options.onRestart?.('rolling');
    this.policy.record({ at: now, kind: 'rolling', reason, restartId, override: result.override });
    this.notePolicy(now);
    if (result.override) {
      this.log.warn(
        { restartId, reason, requestedBy: request.requestedBy, policy: evaluation },
        'rolling restart OVERRIDES the restart churn block (acknowledged)',
      );
    } else {
      this.log.info({ restartId, reason, requestedBy: request.requestedBy }, 'rolling restart started');
    }
    const done = this.runRollout(result);
    this.activeRollout = { result, done };
    return { result: { ...result }, done };
  }

  /**
   * Every process (workers, new workers as they become ready, the primary) logs at `level`
   * until `durationMs` passes, then at its LOG_LEVEL again. A new call replaces the running one.
   */
  setLogLevel(request: SetLogLevelRequest): LogLevelOverride {
    const now = this.now();
    if (this.logRevertTimer) clearTimeout(this.logRevertTimer);
    const untilMs = now + request.durationMs;
    this.logOverride = { level: request.level, revertsAt: new Date(untilMs).toISOString(), reason: request.reason, setBy: request.requestedBy, untilMs };
    this.log.warn(
      { level: request.level, durationMs: request.durationMs, revertsAt: this.logOverride.revertsAt, reason: request.reason, requestedBy: request.requestedBy },
      `runtime log level ${request.level} for every worker until ${this.logOverride.revertsAt}`,
    );
    this.options.onLogLevel?.(request.level);
    const message = this.logLevelMessage(now);
    for (const t of this.live) this.send(t, message);
    this.logRevertTimer = setTimeout(() => this.revertLogLevel(), request.durationMs);
    this.logRevertTimer.unref();
    const { untilMs: _until, ...view } = this.logOverride;
    return view;
  }

  private revertLogLevel(): void {
    this.logRevertTimer = null;
    if (!this.logOverride) return;
    const ended = this.logOverride;
    this.logOverride = null;
    this.options.onLogLevel?.(null);
    this.log.info({ level: ended.level, reason: ended.reason }, 'runtime log level ended: every worker back at LOG_LEVEL');
    const message: LogLevelMessage = { type: 'logLevel', level: null, remainingMs: 0, revertsAt: '', reason: ended.reason, setBy: ended.setBy };
    for (const t of this.live) this.send(t, message);
  }

  private logLevelMessage(now: number): LogLevelMessage {
    const o = this.logOverride;
    if (!o) return { type: 'logLevel', level: null, remainingMs: 0, revertsAt: '', reason: '', setBy: '' };
    return { type: 'logLevel', level: o.level, remainingMs: Math.max(1, o.untilMs - now), revertsAt: o.revertsAt, reason: o.reason, setBy: o.setBy };
  }

  status(): SupervisorStatus {
    const now = this.now();
    const policy = this.policy.evaluate(now);
    return {
      mode: 'cluster',
      pid: process.pid,
      startedAt: new Date(this.startedAtMs).toISOString(),
      uptimeS: Math.floor((now - this.startedAtMs) / 1000),
      desiredWorkers: this.slots.length,
      shuttingDown: this.shuttingDown,
      workers: this.workerViews(now),
      emptySlots: this.emptySlotViews(now),
      rollout: this.activeRollout ? { ...this.activeRollout.result } : this.lastRollout ? { ...this.lastRollout } : null,
      history: this.policy.historyView(now),
      churn: { windowS: policy.windowS, restarts: policy.restartsInWindow, threshold: policy.threshold, exceeded: policy.exceeded },
      policy,
      crashesInWindow: this.crashes.countInWindow(now),
    };
  }

  /** Every live worker's history and recent lines, those of recently exited ones, and the primary's. */
  telemetry(minutes = 60): TelemetryView {
    const since = this.now() - minutes * 60_000 - TELEMETRY_BUCKET_MS;
    const seen = new Set<Tracked>();
    const workers: WorkerTelemetry[] = [];
    for (const t of [...this.live, ...this.exitedHistory.slice().reverse()]) {
      if (seen.has(t)) continue;
      seen.add(t);
      const { buckets, logs } = t.telemetry.view();
      workers.push({ id: t.id, slot: t.slot.index, pid: t.pid, alive: !t.exited, buckets: buckets.filter((b) => b.t >= since), logs });
    }
    return { mode: 'cluster', workers, primaryLogs: this.options.recentLogs?.() ?? [] };
  }

  /**
   * Stops the service: every worker keeps serving with readiness `shutting_down` for
   * `stopDrainDelayMs`, then closes its listener and drains (bounded: delay + drainTimeoutMs +
   * teardown margin, then SIGKILL). Does not exit the process; the report says whether anything
   * had to be forced.
   */
  stop(): Promise<StopReport> {
    if (this.stopping) return this.stopping;
    this.shuttingDown = true;
    this.stopping = (async () => {
      if (this.tickTimer) clearInterval(this.tickTimer);
      this.tickTimer = null;
      if (this.logRevertTimer) clearTimeout(this.logRevertTimer);
      this.logRevertTimer = null;
      for (const slot of this.slots) {
        if (slot.recoveryTimer) clearTimeout(slot.recoveryTimer);
        slot.recoveryTimer = null;
        slot.pending = null;
      }
      const report: StopReport = { forced: false, killed: 0, unclean: 0 };
      const boundMs = this.stopDrainDelayMs + this.options.drainTimeoutMs + STOP_TEARDOWN_MARGIN_MS;
      const stopOne = async (t: Tracked, now: number): Promise<void> => {
        const stuck = t.state === 'ready' && this.isUnresponsive(t, now);
        const outcome = stuck
          ? await this.retire(t, this.stuckKillMs, 'supervisor stopping')
          : await this.retire(t, boundMs, 'supervisor stopping', { drainDelayMs: this.stopDrainDelayMs });
        if (outcome === 'killed') report.killed += 1;
        else if (t.exitCode !== 0) report.unclean += 1;
      };
      this.log.info({ workers: [...this.live].map((t) => t.pid), drainDelayMs: this.stopDrainDelayMs, boundMs }, 'supervisor stopping: draining all workers');
      // Nothing forks once shuttingDown is set, but a worker forked just before (a rollout's
      // replacement) is stopped like the others; each worker is handled once.
      const handled = new Set<Tracked>();
      for (;;) {
        const next = [...this.live].filter((t) => !handled.has(t));
        if (next.length === 0) break;
        for (const t of next) handled.add(t);
        await Promise.all(next.map((t) => stopOne(t, this.now())));
        if (this.activeRollout) await this.activeRollout.done;
        if (this.recycling) await this.recycling;
      }
      report.forced = report.killed > 0 || report.unclean > 0;
      if (report.forced) this.log.warn({ ...report }, 'supervisor stopped: some workers had to be forced');
      else this.log.info({}, 'supervisor stopped: all workers exited cleanly');
      return report;
    })();
    return this.stopping;
  }

  // -------------------------------------------------------------------------------------------
  // Rollout
  // -------------------------------------------------------------------------------------------

  private async runRollout(result: RolloutResult): Promise<RolloutResult> {
    try {
      // A recycle owns its slot; the rollout would skip it and leave an old worker behind.
      if (this.recycling) await this.recycling;
      for (const slot of this.slots) {
        if (this.shuttingDown) {
          Object.assign(result, { status: 'aborted', code: 'SHUTTING_DOWN', message: 'supervisor is shutting down' });
          break;
        }
        if (slot.busy) {
          // The watchdog or crash recovery is already putting a fresh worker here.
          result.skipped += 1;
          continue;
        }
        if (slot.recoveryTimer) {
          clearTimeout(slot.recoveryTimer);
          slot.recoveryTimer = null;
          slot.pending = null;
        }
        const outcome = slot.current
          ? await this.replaceSlot(slot, 'rolling', `rolling restart ${result.restartId}`)
          : await this.fillSlot(slot, 'rolling');
        if (!outcome.ok) {
          const aborted = this.shuttingDown;
          Object.assign(result, {
            status: aborted ? 'aborted' : 'failed',
            code: aborted ? 'SHUTTING_DOWN' : outcome.code,
            message: aborted ? 'supervisor is shutting down' : outcome.message,
          });
          break;
        }
        result.replaced += 1;
      }
      if (result.status === 'running') result.status = 'completed';
    } catch (error) {
      Object.assign(result, { status: 'failed', code: 'WORKER_EXITED', message: error instanceof Error ? error.message : String(error) });
    }
    const now = this.now();
    result.finishedAt = new Date(now).toISOString();
    result.policy = this.policy.evaluate(now);
    this.lastRollout = { ...result };
    this.activeRollout = null;
    const details = { restartId: result.restartId, status: result.status, replaced: result.replaced, total: result.total, skipped: result.skipped, code: result.code };
    if (result.status === 'completed') this.log.info(details, 'rolling restart completed');
    else this.log.error({ ...details, message: result.message }, 'rolling restart stopped; the remaining old workers keep serving');
    return { ...result };
  }

  /** Fork a replacement next to the slot's worker, wait for ready, then retire the old one. */
  private async replaceSlot(slot: Slot, kind: RestartKind, reason: string): Promise<StepOutcome> {
    if (this.shuttingDown) return { ok: false, code: 'SHUTTING_DOWN', message: 'supervisor is shutting down' };
    slot.busy = true;
    try {
      const old = slot.current;
      // A silent worker serves nothing and cannot drain, yet the primary keeps handing it new
      // connections, which hang: retire it now, while the replacement starts, not after.
      const stuck = old !== null && !old.exited && this.isUnresponsive(old, this.now()) ? old : null;
      const retiringStuck = stuck ? this.retire(stuck, this.stuckKillMs, reason) : null;
      const fresh = this.fork(slot);
      slot.replacement = fresh;
      const outcome = await this.waitReady(fresh);
      slot.replacement = null;
      await retiringStuck;
      if (outcome !== 'ready') {
        const failure = this.readyFailure(fresh, outcome);
        this.log.error({ slot: slot.index, kind, pid: fresh.pid, oldPid: old?.pid ?? null, outcome }, `replacement failed: ${failure.message}`);
        await this.retire(fresh, this.options.drainTimeoutMs, 'replacement failed to become ready');
        // The stuck worker is gone already; the empty slot is recovered like a crash.
        if (stuck && slot.current === stuck) slot.current = null;
        return failure;
      }
      slot.current = fresh;
      slot.last = fresh;
      slot.restarts += 1;
      if (old && !old.exited) await this.retire(old, this.options.drainTimeoutMs, reason);
      return { ok: true };
    } finally {
      slot.busy = false;
      if (!slot.current) this.scheduleRecovery(slot);
    }
  }

  /** Put a worker into an empty slot (first start, crash recovery, rollout over an empty slot). */
  private async fillSlot(slot: Slot, context: 'initial' | 'crash' | 'rolling'): Promise<StepOutcome> {
    if (this.shuttingDown) return { ok: false, code: 'SHUTTING_DOWN', message: 'supervisor is shutting down' };
    slot.busy = true;
    try {
      const fresh = this.fork(slot);
      slot.current = fresh;
      slot.last = fresh;
      const outcome = await this.waitReady(fresh);
      slot.lastStartFailed = outcome !== 'ready';
      if (outcome === 'ready') {
        if (context !== 'initial') slot.restarts += 1;
        return { ok: true };
      }
      const failure = this.readyFailure(fresh, outcome);
      this.log.error({ slot: slot.index, context, pid: fresh.pid, outcome }, `worker failed to start: ${failure.message}`);
      if (outcome === 'timeout') {
        // A start that never gets ready is a crash for backoff purposes, like one that exits.
        this.crashes.record(this.now());
        await this.retire(fresh, this.options.drainTimeoutMs, 'ready timeout');
      }
      if (slot.current === fresh) slot.current = null;
      return failure;
    } finally {
      slot.busy = false;
      if (!slot.current) this.scheduleRecovery(slot);
    }
  }

  private readyFailure(t: Tracked, outcome: 'timeout' | 'exited'): StepFailure {
    return outcome === 'timeout'
      ? { ok: false, code: 'READY_TIMEOUT', message: `worker ${t.pid ?? '?'} did not report ready within ${this.options.readyTimeoutMs} ms` }
      : { ok: false, code: 'WORKER_EXITED', message: `worker ${t.pid ?? '?'} exited before reporting ready` };
  }

  // -------------------------------------------------------------------------------------------
  // Watchdog and crash recovery
  // -------------------------------------------------------------------------------------------

  private tick(): void {
    if (this.shuttingDown) return;
    const now = this.now();
    this.notePolicy(now);
    for (const slot of this.slots) {
      if (!slot.current && !slot.busy && !slot.recoveryTimer) this.scheduleRecovery(slot);
      const t = slot.current;
      if (!t || t.state !== 'ready' || slot.busy) continue;
      const verdict = this.verdict(t, now);
      if (verdict === 'lagging' || verdict === 'unresponsive') this.autoRestart(slot, t, verdict, now);
    }
    this.checkRecycle(now);
  }

  /** Why this worker is due for recycling, or null. */
  private recycleCause(t: Tracked): string | null {
    const maxRss = this.options.maxRssBytes ?? 0;
    if (maxRss > 0 && t.rssBytes !== null && t.rssOverBeats >= RSS_OVER_BEATS) {
      return `rss ${Math.round(t.rssBytes / 1048576)} MB over WORKER_MAX_RSS_MB ${Math.round(maxRss / 1048576)}`;
    }
    if (t.requestLimit !== null && t.requests !== null && t.requests >= t.requestLimit) {
      return `${t.requests} requests reached this worker's limit ${t.requestLimit} (WORKER_MAX_REQUESTS ${this.options.maxRequests ?? 0} ± jitter)`;
    }
    return null;
  }

  private checkRecycle(now: number): void {
    if ((this.options.maxRssBytes ?? 0) <= 0 && (this.options.maxRequests ?? 0) <= 0) return;
    if (this.recycling || this.activeRollout || now < this.recycleHoldUntil) return;
    // Only from full strength: never while a slot is empty, starting or being replaced.
    if (this.slots.some((slot) => slot.busy || slot.pending || !slot.current || slot.current.state !== 'ready')) return;
    if (this.policy.evaluate(now).state === 'blocked') return;
    const minUptimeMs = this.options.recycleMinUptimeMs ?? DEFAULT_RECYCLE_MIN_UPTIME_MS;
    for (const slot of this.slots) {
      const t = slot.current;
      if (!t || this.verdict(t, now) !== 'ok' || now - (t.readyAt ?? t.startedAt) < minUptimeMs) continue;
      const cause = this.recycleCause(t);
      if (cause === null) continue;
      this.recycle(slot, t, cause, now);
      return;
    }
  }

  private recycle(slot: Slot, t: Tracked, cause: string, now: number): void {
    const reason = `recycle: ${cause}`;
    this.log.info({ slot: slot.index, workerId: t.id, pid: t.pid, rssBytes: t.rssBytes, requests: t.requests, requestLimit: t.requestLimit }, `recycling worker ${t.pid ?? '?'}: ${cause}`);
    this.options.onRestart?.('recycle');
    this.policy.record({ at: now, kind: 'recycle', reason, slot: slot.index });
    this.notePolicy(now);
    this.recycling = this.replaceSlot(slot, 'recycle', reason).then(
      (outcome) => {
        if (outcome.ok) {
          this.log.info({ slot: slot.index, oldPid: t.pid, pid: currentPid(slot) }, 'worker recycled');
          return;
        }
        this.recycleHoldUntil = this.now() + RECYCLE_FAILURE_HOLD_MS;
        this.log.error(
          { slot: slot.index, pid: t.pid, code: outcome.code, holdMs: RECYCLE_FAILURE_HOLD_MS },
          `recycle failed, keeping worker ${t.pid ?? '?'}: ${outcome.message}`,
        );
      },
    ).finally(() => {
      this.recycling = null;
    });
  }

  private verdict(t: Tracked, now: number): WatchdogVerdict {
    if (t.state !== 'ready') return 'n/a';
    if (this.isUnresponsive(t, now)) return 'unresponsive';
    if (t.lagBeatsOver >= this.options.lagBeats) return 'lagging';
    return 'ok';
  }

  private isUnresponsive(t: Tracked, now: number): boolean {
    const last = t.lastHeartbeatAt ?? t.readyAt ?? t.startedAt;
    return now - last > this.options.watchdogTimeoutMs;
  }

  private autoRestart(slot: Slot, t: Tracked, verdict: 'lagging' | 'unresponsive', now: number): void {
    const evaluation = this.policy.evaluate(now);
    const details = {
      slot: slot.index,
      workerId: t.id,
      pid: t.pid,
      problem: verdict,
      silentMs: now - (t.lastHeartbeatAt ?? t.readyAt ?? t.startedAt),
      lagMs: t.lagMs,
      policy: evaluation,
    };
    // A stuck worker serves nothing: when it is the only one left, waiting is an outage.
    const lastOne = verdict === 'unresponsive' && !this.servingElsewhere(slot, now);
    if (evaluation.state !== 'allowed') t.heldSince ??= now;
    const heldTooLong = t.heldSince !== null && now - t.heldSince >= this.blockedMaxWaitMs;
    if (evaluation.state === 'blocked' && !lastOne && !heldTooLong) {
      if (t.notice !== 'blocked') {
        t.notice = 'blocked';
        this.log.error(
          { ...details, maxWaitS: Math.round(this.blockedMaxWaitMs / 1000), operatorAction: OPERATOR_ACTION },
          `worker ${t.pid ?? '?'} is ${verdict} but automatic restarts are blocked by the restart churn policy; leaving it in place for now`,
        );
      }
      return;
    }
    if (evaluation.state === 'cooling_down' && !lastOne) {
      if (t.notice !== 'cooling_down') {
        t.notice = 'cooling_down';
        this.log.warn(details, `worker ${t.pid ?? '?'} is ${verdict}; automatic restart waits ${evaluation.cooldownRemainingS} s for the cooldown`);
      }
      return;
    }
    if (evaluation.state !== 'allowed') {
      this.log.error(
        { ...details, operatorAction: OPERATOR_ACTION },
        lastOne
          ? `worker ${t.pid ?? '?'} is ${verdict} and no other worker serves: replacing it despite the restart policy`
          : `worker ${t.pid ?? '?'} has been ${verdict} for the longest blocked wait: replacing it despite the restart policy`,
      );
    }
    t.notice = null;
    t.heldSince = null;
    this.log.warn(details, `watchdog: worker ${t.pid ?? '?'} is ${verdict}; starting a replacement`);
    this.options.onRestart?.('watchdog');
    this.policy.record({ at: now, kind: 'watchdog', reason: `watchdog: ${verdict}`, slot: slot.index });
    this.notePolicy(now);
    void this.replaceSlot(slot, 'watchdog', `watchdog: ${verdict}`).then((outcome) => {
      if (outcome.ok) this.log.info({ slot: slot.index, oldPid: t.pid, pid: currentPid(slot) }, 'watchdog replacement done');
      else this.log.error({ slot: slot.index, pid: t.pid, code: outcome.code }, `watchdog replacement failed, keeping worker ${t.pid ?? '?'}: ${outcome.message}`);
    });
  }

  /**
   * Another slot serves (a ready, heartbeating worker) or is being started. A slot merely
   * waiting for its recovery timer does not count: two empty slots must not each think the
   * other will serve.
   */
  private servingElsewhere(slot: Slot, now: number): boolean {
    return this.slots.some((other) => {
      const t = other.current;
      if (other === slot || t === null) return false;
      return (other.busy && t.state === 'starting') || (t.state === 'ready' && !this.isUnresponsive(t, now));
    });
  }

  private scheduleRecovery(slot: Slot): void {
    if (this.shuttingDown || !this.started || slot.busy || slot.current || slot.recoveryTimer) return;
    const now = this.now();
    const evaluation = this.policy.evaluate(now);
    const since = slot.pending?.since ?? now;
    const attempt = this.crashes.attempt(now);
    const backoffMs = fullJitterDelayMs(attempt, this.options.crashBackoffBaseMs, this.options.crashBackoffMaxMs, this.random);
    let delayMs: number;
    let reason: EmptySlotReason;
    if (!this.servingElsewhere(slot, now)) {
      // Nobody serves: refill now. Only a slot whose last start failed (the service cannot come
      // up, e.g. database down) waits, and briefly, so it is retried without a hot fork loop.
      delayMs = slot.lastStartFailed ? Math.min(backoffMs, EMPTY_RETRY_MAX_MS) : 0;
      reason = 'backoff';
      const note = evaluation.state === 'allowed' ? 'no worker is left serving: refilling the slot at once' : 'no worker is left serving: refilling the slot at once despite the restart policy';
      this.log.error({ slot: slot.index, delayMs, policy: evaluation, lastStartFailed: slot.lastStartFailed }, note);
    } else if (evaluation.state === 'blocked') {
      delayMs = Math.min(Math.max(backoffMs, this.policy.msUntilAllowed(now)), this.blockedMaxWaitMs);
      reason = 'blocked';
      this.log.error(
        { slot: slot.index, delayMs, maxWaitMs: this.blockedMaxWaitMs, policy: evaluation, operatorAction: OPERATOR_ACTION },
        `a crashed worker's slot stays empty for up to ${Math.ceil(delayMs / 1000)} s: automatic restarts are blocked by the restart churn policy (other workers keep serving)`,
      );
    } else {
      const cooldownMs = evaluation.state === 'cooling_down' ? this.policy.msUntilAllowed(now) : 0;
      delayMs = Math.max(backoffMs, cooldownMs);
      reason = cooldownMs > backoffMs ? 'cooldown' : 'backoff';
      this.log.warn(
        { slot: slot.index, attempt, delayMs, reason, crashesInWindow: this.crashes.countInWindow(now), policy: evaluation.state },
        'scheduling replacement of crashed worker',
      );
    }
    if (delayMs === 0) {
      // Not even a zero timer: the slot must not look empty-and-waiting to anyone meanwhile.
      void this.recover(slot);
      return;
    }
    slot.pending = { reason, dueAt: now + delayMs, since };
    slot.recoveryTimer = setTimeout(() => {
      slot.recoveryTimer = null;
      void this.recover(slot);
    }, delayMs);
  }

  private async recover(slot: Slot): Promise<void> {
    if (this.shuttingDown || slot.busy || slot.current) return;
    slot.pending = null;
    const now = this.now();
    this.options.onRestart?.('crash');
    this.policy.record({ at: now, kind: 'crash', reason: 'replace crashed worker', slot: slot.index });
    this.notePolicy(now);
    const outcome = await this.fillSlot(slot, 'crash');
    if (outcome.ok) this.log.info({ slot: slot.index, pid: currentPid(slot) }, 'crashed worker replaced');
  }

  /** Logs transitions into and out of `blocked`, the ones an operator must hear about. */
  private notePolicy(now: number): PolicyEvaluation {
    const evaluation = this.policy.evaluate(now);
    if (evaluation.state !== this.lastPolicyState) {
      if (evaluation.state === 'blocked') {
        this.log.error({ policy: evaluation, operatorAction: OPERATOR_ACTION }, 'restart churn policy is now blocked: automatic recovery stopped');
      } else if (this.lastPolicyState === 'blocked') {
        this.log.info({ policy: evaluation }, 'restart churn block lifted: the window drained');
      }
      this.lastPolicyState = evaluation.state;
    }
    return evaluation;
  }

  // -------------------------------------------------------------------------------------------
  // Worker processes
  // -------------------------------------------------------------------------------------------

  private fork(slot: Slot): Tracked {
    const env: Record<string, string> = {
      ...this.options.env,
      [WORKER_ENV.slot]: String(slot.index),
      [WORKER_ENV.heartbeatMs]: String(this.heartbeatIntervalMs),
      [WORKER_ENV.drainTimeoutMs]: String(this.options.drainTimeoutMs),
    };
    const handle = this.cluster.fork(env);
    const t: Tracked = {
      handle,
      id: handle.id,
      pid: handle.process.pid ?? null,
      slot,
      startedAt: this.now(),
      state: 'starting',
      readyAt: null,
      lastHeartbeatAt: null,
      lagMs: null,
      lagBeatsOver: 0,
      expectedExit: false,
      selfStopping: false,
      exited: false,
      exitCode: null,
      exitSignal: null,
      heldSince: null,
      notice: null,
      rssBytes: null,
      rssOverBeats: 0,
      requests: null,
      heapUsedBytes: null,
      telemetry: new TelemetryStore(),
      requestLimit: (this.options.maxRequests ?? 0) > 0 ? jitteredLimit(this.options.maxRequests ?? 0, this.options.recycleJitter ?? DEFAULT_RECYCLE_JITTER, this.random) : null,
      readyWaiters: [],
      exitWaiters: [],
    };
    this.live.add(t);
    handle.on('message', (message) => this.onMessage(t, message));
    handle.on('exit', (code, signal) => this.onExit(t, code, signal));
    handle.on('error', (error) => this.log.warn({ pid: t.pid, err: error.message }, 'worker IPC error'));
    this.log.info({ slot: slot.index, workerId: t.id, pid: t.pid }, 'worker forked');
    return t;
  }

  private onMessage(t: Tracked, raw: unknown): void {
    const message = parseWorkerMessage(raw);
    if (!message) return;
    const now = this.now();
    switch (message.type) {
      case 'ready':
        if (t.state !== 'starting') return;
        t.state = 'ready';
        t.readyAt = now;
        this.log.info({ slot: t.slot.index, workerId: t.id, pid: t.pid, startupMs: now - t.startedAt }, 'worker ready');
        // A worker started during a runtime log level runs at it too, for what is left of it.
        if (this.logOverride) this.send(t, this.logLevelMessage(now));
        for (const resolve of t.readyWaiters.splice(0)) resolve('ready');
        return;
      case 'heartbeat': {
        const wasUnresponsive = t.state === 'ready' && this.isUnresponsive(t, now);
        t.lastHeartbeatAt = now;
        t.lagMs = message.lagMs;
        if (message.rssBytes !== undefined) {
          t.rssBytes = message.rssBytes;
          const maxRss = this.options.maxRssBytes ?? 0;
          t.rssOverBeats = maxRss > 0 && message.rssBytes > maxRss ? t.rssOverBeats + 1 : 0;
        }
        if (message.requests !== undefined) t.requests = message.requests;
        if (message.heapUsedBytes !== undefined) t.heapUsedBytes = message.heapUsedBytes;
        if (message.telemetry) t.telemetry.absorb(message.telemetry);
        if (t.state !== 'ready') return;
        t.lagBeatsOver = message.lagMs > this.options.lagThresholdMs ? t.lagBeatsOver + 1 : 0;
        if (t.notice !== null && (wasUnresponsive || t.lagBeatsOver === 0) && this.verdict(t, now) === 'ok') {
          t.notice = null;
          t.heldSince = null;
          this.log.info({ slot: t.slot.index, pid: t.pid, lagMs: message.lagMs }, 'worker healthy again');
        }
        return;
      }
      case 'stopping':
        // Signalled directly (or with the whole group, in which case our own stop follows).
        if (!t.expectedExit) {
          t.expectedExit = true;
          t.selfStopping = true;
          this.log.info({ slot: t.slot.index, workerId: t.id, pid: t.pid, signal: message.signal }, 'worker got a stop signal of its own and is draining');
        }
        return;
      case 'request':
        this.onRequest(t, message);
        return;
    }
  }

  private onRequest(t: Tracked, request: WorkerRequestMessage): void {
    if (request.op === 'metrics') {
      const collect = this.options.collectMetrics;
      if (!collect) {
        this.send(t, { type: 'response', id: request.id, ok: false, error: { code: 'NOT_SUPPORTED', message: 'no metrics collector' } });
        return;
      }
      collect().then(
        (text) => this.send(t, { type: 'response', id: request.id, ok: true, result: text }),
        (error: unknown) =>
          this.send(t, { type: 'response', id: request.id, ok: false, error: { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) } }),
      );
      return;
    }
    let result: unknown;
    try {
      if (request.op === 'telemetry') result = this.telemetry((request.payload as TelemetryRequest | undefined)?.minutes ?? 60);
      else if (request.op === 'setLogLevel') result = this.setLogLevel(request.payload as SetLogLevelRequest);
      else if (request.op === 'status') result = this.status();
      else result = this.beginRollingRestart((request.payload as RollingRestartRequest | undefined) ?? { reason: '' }).result;
    } catch (error) {
      this.send(t, { type: 'response', id: request.id, ok: false, error: { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) } });
      return;
    }
    this.send(t, { type: 'response', id: request.id, ok: true, result });
  }

  private onExit(t: Tracked, code: number | null, signal: string | null): void {
    if (t.exited) return;
    t.exited = true;
    t.exitCode = code;
    t.exitSignal = signal;
    t.state = 'stopped';
    this.live.delete(t);
    const now = this.now();
    const unexpected = !t.expectedExit && !this.shuttingDown;
    t.slot.lastExit = { code, signal, at: new Date(now).toISOString(), unexpected };
    this.exitedHistory.push(t);
    if (this.exitedHistory.length > TELEMETRY_EXITED_KEPT) this.exitedHistory.shift();
    const details = { slot: t.slot.index, workerId: t.id, pid: t.pid, code, signal, uptimeS: Math.round((now - t.startedAt) / 1000) };
    if (unexpected) {
      this.crashes.record(now);
      this.log.error({ ...details, crashesInWindow: this.crashes.countInWindow(now) }, 'worker exited unexpectedly');
    } else {
      this.log.info(details, 'worker exited');
    }
    for (const resolve of t.readyWaiters.splice(0)) resolve('exited');
    for (const resolve of t.exitWaiters.splice(0)) resolve();
    const slot = t.slot;
    if (slot.current === t) {
      slot.current = null;
      if (unexpected) this.scheduleRecovery(slot);
      else if (t.selfStopping && !this.shuttingDown && !slot.busy) {
        // Stopped by someone else's signal: not a crash, nothing to back off from.
        this.log.info({ slot: slot.index, pid: t.pid }, 'refilling the slot of a worker that stopped on its own signal');
        void this.fillSlot(slot, 'crash');
      }
    }
  }

  private send(t: Tracked, message: PrimaryToWorker): void {
    if (t.exited || !t.handle.isConnected()) return;
    try {
      t.handle.send(message);
    } catch (error) {
      this.log.warn({ pid: t.pid, err: error instanceof Error ? error.message : String(error) }, 'could not message worker');
    }
  }

  private waitReady(t: Tracked): Promise<ReadyOutcome> {
    if (t.state === 'ready') return Promise.resolve('ready');
    if (t.exited) return Promise.resolve('exited');
    return new Promise<ReadyOutcome>((resolve) => {
      const settle = (outcome: ReadyOutcome): void => {
        clearTimeout(timer);
        const index = t.readyWaiters.indexOf(settle);
        if (index >= 0) t.readyWaiters.splice(index, 1);
        resolve(outcome);
      };
      const timer = setTimeout(() => settle('timeout'), this.options.readyTimeoutMs);
      t.readyWaiters.push(settle);
    });
  }

  private waitExit(t: Tracked, timeoutMs: number): Promise<boolean> {
    if (t.exited) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const settle = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        const index = t.exitWaiters.indexOf(settle);
        if (index >= 0) t.exitWaiters.splice(index, 1);
        resolve(false);
      }, timeoutMs);
      t.exitWaiters.push(settle);
    });
  }

  /**
   * Ask a worker to drain and leave; SIGKILL it when `boundMs` passes. A rolling restart
   * (no `stop`) disconnects it at once: the primary stops handing it connections while the
   * others keep the port. A stop passes the drain delay instead and leaves the worker
   * connected, so it keeps serving through the delay and closes its listener itself.
   */
  private async retire(t: Tracked, boundMs: number, reason: string, stop?: { drainDelayMs: number }): Promise<'exited' | 'killed'> {
    if (t.exited) return 'exited';
    t.expectedExit = true;
    if (t.state !== 'draining') {
      t.state = 'draining';
      this.log.info({ slot: t.slot.index, workerId: t.id, pid: t.pid, boundMs, reason, drainDelayMs: stop?.drainDelayMs ?? 0 }, 'draining worker');
      this.send(t, stop ? { type: 'shutdown', reason, deadlineMs: boundMs, drainDelayMs: stop.drainDelayMs } : { type: 'shutdown', reason, deadlineMs: boundMs });
      try {
        if (!stop && t.handle.isConnected()) t.handle.disconnect();
      } catch (error) {
        this.log.warn({ pid: t.pid, err: error instanceof Error ? error.message : String(error) }, 'disconnect failed');
      }
    }
    if (await this.waitExit(t, boundMs)) return 'exited';
    this.log.warn({ slot: t.slot.index, pid: t.pid, boundMs }, 'worker did not exit within its bound: SIGKILL');
    this.kill(t);
    if (!(await this.waitExit(t, KILL_WAIT_MS))) this.log.error({ pid: t.pid }, 'worker still alive after SIGKILL');
    return 'killed';
  }

  private kill(t: Tracked): void {
    try {
      t.handle.process.kill('SIGKILL');
    } catch (error) {
      this.log.warn({ pid: t.pid, err: error instanceof Error ? error.message : String(error) }, 'SIGKILL failed');
    }
  }

  private workerViews(now: number): WorkerStatus[] {
    const view = (t: Tracked): WorkerStatus => {
      const row: WorkerStatus = {
      slot: t.slot.index,
      id: t.id,
      pid: t.pid,
      state: t.state,
      startedAt: new Date(t.startedAt).toISOString(),
      readyAt: t.readyAt === null ? null : new Date(t.readyAt).toISOString(),
      restarts: t.slot.restarts,
      lastHeartbeatAt: t.lastHeartbeatAt === null ? null : new Date(t.lastHeartbeatAt).toISOString(),
      eventLoopLagMs: t.lagMs,
      watchdog: this.verdict(t, now),
      };
      if (t.rssBytes !== null) row.rssBytes = t.rssBytes;
      if (t.requests !== null) row.requests = t.requests;
      if (t.requestLimit !== null) row.requestLimit = t.requestLimit;
      if (t.heapUsedBytes !== null) row.heapUsedBytes = t.heapUsedBytes;
      // A live worker's row shows how its predecessor ended; an empty slot's row, how it ended itself.
      if (t.slot.lastExit !== null) row.lastExit = { ...t.slot.lastExit };
      return row;
    };
    const rows = [...this.live].map(view);
    for (const slot of this.slots) {
      if (!slot.current && !slot.replacement && slot.last && !this.live.has(slot.last)) rows.push(view(slot.last));
    }
    return rows.sort((a, b) => a.slot - b.slot || a.startedAt.localeCompare(b.startedAt));
  }

  private emptySlotViews(now: number): EmptySlotView[] {
    const views: EmptySlotView[] = [];
    for (const slot of this.slots) {
      if (slot.current || slot.busy || !slot.pending) continue;
      views.push({
        slot: slot.index,
        state: 'empty',
        reason: slot.pending.reason,
        refillInS: Math.max(0, Math.ceil((slot.pending.dueAt - now) / 1000)),
        since: new Date(slot.pending.since).toISOString(),
      });
    }
    return views;
  }

  // -------------------------------------------------------------------------------------------
  // Signals
  // -------------------------------------------------------------------------------------------

  private installSignalHandlers(): void {
    const onHangup = (): void => {
      const { result } = this.beginRollingRestart({ reason: 'SIGHUP', acknowledgeOverride: true, requestedBy: 'SIGHUP' });
      this.log.info({ restartId: result.restartId, status: result.status, alreadyRunning: result.alreadyRunning }, 'SIGHUP: rolling restart');
    };
    const gate = new StopSignalGate(this.now);
    const onStop = (signal: NodeJS.Signals): void => {
      const verdict = gate.classify();
      if (verdict === 'repeat') {
        this.log.info({ signal }, 'stop signal repeated within a second (one Ctrl-C or group signal delivered twice): same stop');
        return;
      }
      if (verdict === 'force') {
        this.log.warn({ signal }, 'second stop signal: killing all workers now');
        for (const t of this.live) this.kill(t);
        this.exit(1);
        return;
      }
      this.log.info({ signal, drainDelayMs: this.stopDrainDelayMs }, 'stop signal: draining workers, then exiting');
      this.stop().then(
        (report) => this.exit(report.forced ? 1 : 0),
        (error: unknown) => {
          this.log.error({ err: error instanceof Error ? error.message : String(error) }, 'graceful stop failed');
          this.exit(1);
        },
      );
    };
    this.signalHandlers.push(['SIGHUP', onHangup], ['SIGTERM', onStop], ['SIGINT', onStop]);
    for (const [signal, handler] of this.signalHandlers) process.on(signal, handler);
  }

  /** Removes the signal handlers (for embedding and tests; a signal-driven stop exits anyway). */
  removeSignalHandlers(): void {
    for (const [signal, handler] of this.signalHandlers.splice(0)) process.off(signal, handler);
  }
}

/** Types consumers commonly need alongside the class. */
export type { RolloutResult, SupervisorStatus, PolicyEvaluation, RollingRestartRequest } from './protocol.js';
