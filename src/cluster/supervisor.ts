import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { CrashCounter, fullJitterDelayMs } from './backoff.js';
import {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  parseWorkerMessage,
  WORKER_ENV,
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
} from './protocol.js';
import { RestartPolicy } from './restart-policy.js';

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
 *     blocked      -> a stuck worker is left alone and logged at error with the operator's
 *                     options; a crashed worker's slot stays empty unless no other worker is
 *                     serving, in which case exactly one slot is recovered anyway, because a
 *                     primary with zero workers is an outage the block was never meant to cause.
 * - Manual restarts are refused with RESTART_BLOCKED while blocked unless acknowledgeOverride is
 *   true. SIGHUP counts as acknowledged: whoever can signal the primary has host access, and
 *   when every worker is stuck the admin API (which runs in the workers) cannot be reached.
 * - A rollout counts as one entry in the restart history (it is one operator decision, however
 *   many workers it replaces); each watchdog or crash replacement counts as one.
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
  /** Called after a signal-initiated stop. Default process.exit. */
  exit?: (code: number) => void;
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
  /** Told about every restart as it is recorded (metrics count them by kind). */
  onRestart?: (kind: RestartKind) => void;
}

export type RolloutHandle = { result: RolloutResult; done: Promise<RolloutResult> };

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
  exited: boolean;
  /** Last watchdog complaint already logged, so a stuck worker is reported once, not per tick. */
  notice: Notice;
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
  /** A replace/fill operation owns the slot; nobody else may fork into it. */
  busy: boolean;
  recoveryTimer: NodeJS.Timeout | null;
  /** Crash recovery is waiting for the policy to allow it (logged once). */
  awaitingPolicy: boolean;
}

const KILL_WAIT_MS = 5000;
const MAX_REASON_LENGTH = 500;
export const OPERATOR_ACTION =
  'investigate the worker logs; to restart anyway call POST /admin/api/worker/restart with ' +
  'acknowledgeOverride: true and a reason (or send SIGHUP to the primary); automatic recovery ' +
  'resumes by itself when the churn window drains';

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
  private readonly heartbeatIntervalMs: number;
  private readonly stuckKillMs: number;
  private readonly watchdogIntervalMs: number;
  private readonly exit: (code: number) => void;
  private readonly startedAtMs: number;
  private started = false;
  private shuttingDown = false;
  private stopping: Promise<void> | null = null;
  private tickTimer: NodeJS.Timeout | null = null;
  private activeRollout: RolloutHandle | null = null;
  private lastRollout: RolloutResult | null = null;
  private lastPolicyState: PolicyState = 'allowed';
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
    this.startedAtMs = this.now();
    this.slots = Array.from({ length: options.workers }, (_, index) => ({
      index,
      current: null,
      replacement: null,
      last: null,
      restarts: 0,
      busy: false,
      recoveryTimer: null,
      awaitingPolicy: false,
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
      rollout: this.activeRollout ? { ...this.activeRollout.result } : this.lastRollout ? { ...this.lastRollout } : null,
      history: this.policy.historyView(now),
      churn: { windowS: policy.windowS, restarts: policy.restartsInWindow, threshold: policy.threshold, exceeded: policy.exceeded },
      policy,
      crashesInWindow: this.crashes.countInWindow(now),
    };
  }

  /** Drains every worker (bounded by drainTimeoutMs, then SIGKILL). Does not exit the process. */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    this.shuttingDown = true;
    this.stopping = (async () => {
      if (this.tickTimer) clearInterval(this.tickTimer);
      this.tickTimer = null;
      for (const slot of this.slots) {
        if (slot.recoveryTimer) clearTimeout(slot.recoveryTimer);
        slot.recoveryTimer = null;
      }
      const workers = [...this.live];
      this.log.info({ workers: workers.map((t) => t.pid) }, 'supervisor stopping: draining all workers');
      const now = this.now();
      await Promise.all(
        workers.map((t) => this.retire(t, this.isUnresponsive(t, now) ? this.stuckKillMs : this.options.drainTimeoutMs, 'supervisor stopping')),
      );
      if (this.activeRollout) await this.activeRollout.done;
      this.log.info({}, 'supervisor stopped: all workers exited');
    })();
    return this.stopping;
  }

  // -------------------------------------------------------------------------------------------
  // Rollout
  // -------------------------------------------------------------------------------------------

  private async runRollout(result: RolloutResult): Promise<RolloutResult> {
    try {
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
    if (evaluation.state === 'blocked') {
      if (t.notice !== 'blocked') {
        t.notice = 'blocked';
        this.log.error(
          { ...details, operatorAction: OPERATOR_ACTION },
          `worker ${t.pid ?? '?'} is ${verdict} but automatic restarts are blocked by the restart churn policy; leaving it in place`,
        );
      }
      return;
    }
    if (evaluation.state === 'cooling_down') {
      if (t.notice !== 'cooling_down') {
        t.notice = 'cooling_down';
        this.log.warn(details, `worker ${t.pid ?? '?'} is ${verdict}; automatic restart waits ${evaluation.cooldownRemainingS} s for the cooldown`);
      }
      return;
    }
    t.notice = null;
    this.log.warn(details, `watchdog: worker ${t.pid ?? '?'} is ${verdict}; starting a replacement`);
    this.options.onRestart?.('watchdog');
    this.policy.record({ at: now, kind: 'watchdog', reason: `watchdog: ${verdict}`, slot: slot.index });
    this.notePolicy(now);
    void this.replaceSlot(slot, 'watchdog', `watchdog: ${verdict}`).then((outcome) => {
      if (outcome.ok) this.log.info({ slot: slot.index, oldPid: t.pid, pid: currentPid(slot) }, 'watchdog replacement done');
      else this.log.error({ slot: slot.index, pid: t.pid, code: outcome.code }, `watchdog replacement failed, keeping worker ${t.pid ?? '?'}: ${outcome.message}`);
    });
  }

  private scheduleRecovery(slot: Slot): void {
    if (this.shuttingDown || !this.started || slot.busy || slot.current || slot.recoveryTimer) return;
    const now = this.now();
    const evaluation = this.policy.evaluate(now);
    // A slot already being (re)filled counts as serving, or two empty slots would both take
    // the "keep one worker" exception.
    const servingElsewhere = this.slots.some(
      (other) =>
        other !== slot &&
        (other.busy ||
          other.recoveryTimer !== null ||
          (other.current !== null &&
            (other.current.state === 'starting' || (other.current.state === 'ready' && !this.isUnresponsive(other.current, now))))),
    );
    if (evaluation.state === 'blocked' && servingElsewhere) {
      if (!slot.awaitingPolicy) {
        slot.awaitingPolicy = true;
        this.log.error(
          { slot: slot.index, policy: evaluation, operatorAction: OPERATOR_ACTION },
          'a crashed worker is not replaced: automatic restarts are blocked by the restart churn policy (other workers keep serving)',
        );
      }
      return;
    }
    if (evaluation.state === 'blocked') {
      this.log.error(
        { slot: slot.index, policy: evaluation, operatorAction: OPERATOR_ACTION },
        'no worker is left serving: recovering one worker despite the restart churn block',
      );
    }
    slot.awaitingPolicy = false;
    const attempt = this.crashes.attempt(now);
    let delayMs = fullJitterDelayMs(attempt, this.options.crashBackoffBaseMs, this.options.crashBackoffMaxMs, this.random);
    // The cooldown only holds back recovery while someone else serves; an empty primary recovers now.
    if (evaluation.state === 'cooling_down' && servingElsewhere) delayMs = Math.max(delayMs, this.policy.msUntilAllowed(now));
    this.log.warn(
      { slot: slot.index, attempt, delayMs, crashesInWindow: this.crashes.countInWindow(now), policy: evaluation.state },
      'scheduling replacement of crashed worker',
    );
    slot.recoveryTimer = setTimeout(() => {
      slot.recoveryTimer = null;
      void this.recover(slot);
    }, delayMs);
  }

  private async recover(slot: Slot): Promise<void> {
    if (this.shuttingDown || slot.busy || slot.current) return;
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
      exited: false,
      notice: null,
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
        for (const resolve of t.readyWaiters.splice(0)) resolve('ready');
        return;
      case 'heartbeat': {
        const wasUnresponsive = t.state === 'ready' && this.isUnresponsive(t, now);
        t.lastHeartbeatAt = now;
        t.lagMs = message.lagMs;
        if (t.state !== 'ready') return;
        t.lagBeatsOver = message.lagMs > this.options.lagThresholdMs ? t.lagBeatsOver + 1 : 0;
        if (t.notice !== null && (wasUnresponsive || t.lagBeatsOver === 0) && this.verdict(t, now) === 'ok') {
          t.notice = null;
          this.log.info({ slot: t.slot.index, pid: t.pid, lagMs: message.lagMs }, 'worker healthy again');
        }
        return;
      }
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
      result = request.op === 'status' ? this.status() : this.beginRollingRestart(request.payload ?? { reason: '' }).result;
    } catch (error) {
      this.send(t, { type: 'response', id: request.id, ok: false, error: { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) } });
      return;
    }
    this.send(t, { type: 'response', id: request.id, ok: true, result });
  }

  private onExit(t: Tracked, code: number | null, signal: string | null): void {
    if (t.exited) return;
    t.exited = true;
    t.state = 'stopped';
    this.live.delete(t);
    const now = this.now();
    const unexpected = !t.expectedExit && !this.shuttingDown;
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

  /** Ask a worker to drain and leave; SIGKILL it when `boundMs` passes. */
  private async retire(t: Tracked, boundMs: number, reason: string): Promise<void> {
    if (t.exited) return;
    t.expectedExit = true;
    if (t.state !== 'draining') {
      t.state = 'draining';
      this.log.info({ slot: t.slot.index, workerId: t.id, pid: t.pid, boundMs, reason }, 'draining worker');
      this.send(t, { type: 'shutdown', reason, deadlineMs: boundMs });
      try {
        // Stops the primary handing it connections now, and lets cluster tell exit from crash.
        if (t.handle.isConnected()) t.handle.disconnect();
      } catch (error) {
        this.log.warn({ pid: t.pid, err: error instanceof Error ? error.message : String(error) }, 'disconnect failed');
      }
    }
    if (await this.waitExit(t, boundMs)) return;
    this.log.warn({ slot: t.slot.index, pid: t.pid, boundMs }, 'worker did not exit within its bound: SIGKILL');
    this.kill(t);
    if (!(await this.waitExit(t, KILL_WAIT_MS))) this.log.error({ pid: t.pid }, 'worker still alive after SIGKILL');
  }

  private kill(t: Tracked): void {
    try {
      t.handle.process.kill('SIGKILL');
    } catch (error) {
      this.log.warn({ pid: t.pid, err: error instanceof Error ? error.message : String(error) }, 'SIGKILL failed');
    }
  }

  private workerViews(now: number): WorkerStatus[] {
    const view = (t: Tracked): WorkerStatus => ({
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
    });
    const rows = [...this.live].map(view);
    for (const slot of this.slots) {
      if (!slot.current && !slot.replacement && slot.last && !this.live.has(slot.last)) rows.push(view(slot.last));
    }
    return rows.sort((a, b) => a.slot - b.slot || a.startedAt.localeCompare(b.startedAt));
  }

  // -------------------------------------------------------------------------------------------
  // Signals
  // -------------------------------------------------------------------------------------------

  private installSignalHandlers(): void {
    const onHangup = (): void => {
      const { result } = this.beginRollingRestart({ reason: 'SIGHUP', acknowledgeOverride: true, requestedBy: 'SIGHUP' });
      this.log.info({ restartId: result.restartId, status: result.status, alreadyRunning: result.alreadyRunning }, 'SIGHUP: rolling restart');
    };
    const onStop = (signal: NodeJS.Signals): void => {
      if (this.stopping) {
        this.log.warn({ signal }, 'second stop signal: killing all workers now');
        for (const t of this.live) this.kill(t);
        this.exit(1);
        return;
      }
      this.log.info({ signal }, 'stop signal: draining workers, then exiting');
      this.stop().then(
        () => this.exit(0),
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
