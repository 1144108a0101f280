import type { PolicyEvaluation, RestartKind, RestartRecordView } from './protocol.js';


/**
 * Restart-churn policy: a bounded restart history and a pure evaluation against a clock that the
 * caller passes in, so the supervisor, the single-process fallback and the tests share one rule.
 *
 * Only unplanned restarts (crash, watchdog) count: the policy exists to stop a crash loop from
 * hammering a struggling dependency, and a deploy is not a crash loop. Planned ones (rolling
 * restarts from the console, the API or SIGHUP; memory recycling later) are kept in the history
 * for the operator but neither block nor start a cooldown, so deploys cannot switch
 * self-healing off.
 *
 * - more than `max` unplanned restarts within the last `windowS` seconds: `blocked` (automatic
 *   recovery waits, bounded by the supervisor; an operator may override). It lifts by itself
 *   once enough entries leave the window.
 * - otherwise, within `cooldownS` of the latest unplanned restart: `cooling_down`.
 * - otherwise `allowed`.
 */

/** Restarts an operator (or a schedule) decided on; recorded, never counted as churn. */
export const PLANNED_RESTART_KINDS: ReadonlySet<RestartKind> = new Set<RestartKind>(['rolling', 'recycle']);

export function isPlanned(kind: RestartKind): boolean {
  return PLANNED_RESTART_KINDS.has(kind);
}

export interface RestartPolicyOptions {
  windowS: number;
  max: number;
  cooldownS: number;
  /** Ring size. Must exceed `max`, or a full ring could never count past the threshold. */
  capacity?: number;
}

export interface RestartRecord {
  /** Epoch milliseconds. */
  at: number;
  kind: RestartKind;
  reason: string;
  restartId?: string;
  slot?: number;
  override?: boolean;
}

export const DEFAULT_HISTORY_CAPACITY = 100;

export class RestartPolicy {
  readonly windowS: number;
  readonly max: number;
  readonly cooldownS: number;
  readonly capacity: number;
  private readonly ring: Array<RestartRecord | undefined>;
  private head = 0;
  private size = 0;

  constructor(options: RestartPolicyOptions) {
    const capacity = options.capacity ?? DEFAULT_HISTORY_CAPACITY;
    if (!(options.windowS > 0)) throw new RangeError('RestartPolicy: windowS must be > 0');
    if (!Number.isInteger(options.max) || options.max < 0) throw new RangeError('RestartPolicy: max must be an integer >= 0');
    if (!(options.cooldownS >= 0)) throw new RangeError('RestartPolicy: cooldownS must be >= 0');
    if (!Number.isInteger(capacity) || capacity <= options.max) {
      throw new RangeError('RestartPolicy: capacity must be an integer greater than max');
    }
    this.windowS = options.windowS;
    this.max = options.max;
    this.cooldownS = options.cooldownS;
    this.capacity = capacity;
    this.ring = new Array<RestartRecord | undefined>(capacity);
  }

  record(entry: RestartRecord): void {
    const index = (this.head + this.size) % this.capacity;
    this.ring[index] = { ...entry };
    if (this.size < this.capacity) {
      this.size += 1;
    } else {
      // Full: the write above replaced the oldest entry, so the oldest is now the next one.
      this.head = (this.head + 1) % this.capacity;
    }
  }

  /** Everything retained, oldest first (at most `capacity`). */
  entries(): RestartRecord[] {
    const out: RestartRecord[] = [];
    for (let i = 0; i < this.size; i += 1) {
      const entry = this.ring[(this.head + i) % this.capacity];
      if (entry) out.push({ ...entry });
    }
    return out;
  }

  /** Entries within the window ending at `now`, oldest first, planned ones included. */
  inWindow(now: number): RestartRecord[] {
    const from = now - this.windowS * 1000;
    return this.entries()
      .filter((entry) => entry.at > from)
      .sort((a, b) => a.at - b.at);
  }

  /** The entries the churn rule counts: unplanned ones within the window, oldest first. */
  countedInWindow(now: number): RestartRecord[] {
    return this.inWindow(now).filter((entry) => !isPlanned(entry.kind));
  }

  historyView(now: number): RestartRecordView[] {
    return this.inWindow(now).map((entry) => ({
      at: new Date(entry.at).toISOString(),
      kind: entry.kind,
      reason: entry.reason,
      restartId: entry.restartId ?? null,
      slot: entry.slot ?? null,
      override: entry.override === true,
      planned: isPlanned(entry.kind),
    }));
  }

  evaluate(now: number): PolicyEvaluation {
    const recent = this.countedInWindow(now);
    const count = recent.length;
    const exceeded = count > this.max;
    const latest = recent.length > 0 ? recent[recent.length - 1] : this.latestCounted();
    const cooldownMs = latest ? Math.max(0, latest.at + this.cooldownS * 1000 - now) : 0;
    const plannedInWindow = this.inWindow(now).length - count;
    const base = { restartsInWindow: count, plannedInWindow, windowS: this.windowS, threshold: this.max, exceeded };

    if (exceeded) {
      // The block lifts when the count drops back to `max`, i.e. when the entry at position
      // count - max - 1 (oldest first) leaves the window.
      const releasing = recent[count - this.max - 1];
      const liftMs = releasing ? Math.max(0, releasing.at + this.windowS * 1000 - now) : 0;
      const remainingS = toWholeSeconds(Math.max(liftMs, cooldownMs));
      return {
        ...base,
        state: 'blocked',
        cooldownRemainingS: remainingS,
        nextAction:
          `restarts blocked (${count} in the last ${this.windowS} s, threshold ${this.max}): investigate logs; ` +
          'an operator override with acknowledgeOverride and a reason is required; ' +
          `automatic recovery resumes by itself in ${remainingS} s`,
      };
    }
    if (cooldownMs > 0) {
      const remainingS = toWholeSeconds(cooldownMs);
      return {
        ...base,
        state: 'cooling_down',
        cooldownRemainingS: remainingS,
        nextAction: `wait ${remainingS} s for cooldown before the next automatic restart`,
      };
    }
    return { ...base, state: 'allowed', cooldownRemainingS: 0, nextAction: 'automatic recovery allowed' };
  }

  /** Milliseconds until `evaluate` would no longer return blocked or cooling_down. */
  msUntilAllowed(now: number): number {
    const evaluation = this.evaluate(now);
    if (evaluation.state === 'allowed') return 0;
    const recent = this.countedInWindow(now);
    const latest = recent[recent.length - 1];
    const cooldownMs = latest ? Math.max(0, latest.at + this.cooldownS * 1000 - now) : 0;
    if (evaluation.state === 'cooling_down') return cooldownMs;
    const releasing = recent[recent.length - this.max - 1];
    const liftMs = releasing ? Math.max(0, releasing.at + this.windowS * 1000 - now) : 0;
    return Math.max(liftMs, cooldownMs);
  }

  /** The newest unplanned entry retained, even outside the window (a cooldown may outlast it). */
  private latestCounted(): RestartRecord | undefined {
    for (let i = this.size - 1; i >= 0; i -= 1) {
      const entry = this.ring[(this.head + i) % this.capacity];
      if (entry && !isPlanned(entry.kind)) return entry;
    }
    return undefined;
  }
}

/** Rounds up so "0 s remaining" is only ever shown once the wait is really over. */
function toWholeSeconds(ms: number): number {
  return ms <= 0 ? 0 : Math.ceil(ms / 1000);
}
