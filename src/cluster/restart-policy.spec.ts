import { describe, expect, it } from 'vitest';
import { RestartPolicy, type RestartRecord } from './restart-policy.js';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const s = (seconds: number): number => T0 + seconds * 1000;

function entry(at: number, kind: RestartRecord['kind'] = 'watchdog'): RestartRecord {
  return { at, kind, reason: 'test' };
}

describe('RestartPolicy', () => {
  const make = (capacity?: number): RestartPolicy =>
    new RestartPolicy({ windowS: 600, max: 3, cooldownS: 30, ...(capacity === undefined ? {} : { capacity }) });

  it('is allowed with no history', () => {
    expect(make().evaluate(s(0))).toEqual({
      state: 'allowed',
      cooldownRemainingS: 0,
      restartsInWindow: 0,
      plannedInWindow: 0,
      windowS: 600,
      threshold: 3,
      exceeded: false,
      nextAction: 'automatic recovery allowed',
    });
  });

  it('cools down after each restart, rounding the remaining time up, then allows again', () => {
    const policy = make();
    policy.record(entry(s(0)));
    expect(policy.evaluate(s(0))).toMatchObject({ state: 'cooling_down', cooldownRemainingS: 30, restartsInWindow: 1 });
    const mid = policy.evaluate(s(17.2));
    expect(mid).toMatchObject({ state: 'cooling_down', cooldownRemainingS: 13 });
    expect(mid.nextAction).toBe('wait 13 s for cooldown before the next automatic restart');
    expect(policy.evaluate(s(29.999)).cooldownRemainingS).toBe(1);
    expect(policy.evaluate(s(30))).toMatchObject({ state: 'allowed', cooldownRemainingS: 0, restartsInWindow: 1 });
  });

  it('blocks when restarts in the window exceed the threshold (max itself is still fine)', () => {
    const policy = make();
    for (const at of [0, 100, 200]) policy.record(entry(s(at)));
    expect(policy.evaluate(s(240))).toMatchObject({ state: 'allowed', restartsInWindow: 3, exceeded: false });
    policy.record(entry(s(300)));
    const blocked = policy.evaluate(s(300));
    expect(blocked).toMatchObject({ state: 'blocked', restartsInWindow: 4, exceeded: true, threshold: 3 });
    expect(blocked.nextAction).toContain('restarts blocked');
    expect(blocked.nextAction).toContain('investigate logs');
    expect(blocked.nextAction).toContain('an operator override with acknowledgeOverride and a reason is required');
  });

  it('lifts the block by itself when the oldest restart leaves the window', () => {
    const policy = make();
    for (const at of [0, 100, 200, 300]) policy.record(entry(s(at)));
    // The restart at 0 leaves the window at 600: 300 s remain at t=300.
    expect(policy.evaluate(s(300))).toMatchObject({ state: 'blocked', cooldownRemainingS: 300 });
    expect(policy.evaluate(s(599))).toMatchObject({ state: 'blocked', cooldownRemainingS: 1 });
    expect(policy.msUntilAllowed(s(599))).toBe(1000);
    expect(policy.evaluate(s(600))).toMatchObject({ state: 'allowed', restartsInWindow: 3, exceeded: false });
  });

  it('needs as many entries to leave as it is over the threshold', () => {
    const policy = make();
    for (const at of [0, 10, 20, 30, 40, 50]) policy.record(entry(s(at)));
    // 6 > 3: entries at 0, 10 and 20 must leave; the one at 20 leaves at 620.
    expect(policy.evaluate(s(60))).toMatchObject({ state: 'blocked', cooldownRemainingS: 560 });
    expect(policy.evaluate(s(619)).state).toBe('blocked');
    expect(policy.evaluate(s(620)).state).toBe('allowed');
  });

  it('reports the cooldown when it outlasts the window drain while blocked', () => {
    const policy = new RestartPolicy({ windowS: 10, max: 1, cooldownS: 60 });
    policy.record(entry(s(0)));
    policy.record(entry(s(5)));
    // Drain at 10 s, cooldown until 65 s.
    expect(policy.evaluate(s(6))).toMatchObject({ state: 'blocked', cooldownRemainingS: 59 });
    expect(policy.evaluate(s(10))).toMatchObject({ state: 'cooling_down', cooldownRemainingS: 55 });
  });

  it('keeps a bounded ring: the oldest entries are dropped, the newest kept in order', () => {
    const policy = make(5);
    for (let i = 0; i < 12; i += 1) policy.record({ at: s(i), kind: 'crash', reason: `r${i}` });
    const entries = policy.entries();
    expect(entries).toHaveLength(5);
    expect(entries.map((e) => e.reason)).toEqual(['r7', 'r8', 'r9', 'r10', 'r11']);
    // A full ring still counts past the threshold.
    expect(policy.evaluate(s(12))).toMatchObject({ state: 'blocked', restartsInWindow: 5 });
  });

  it('renders the window history as ISO views', () => {
    const policy = make();
    policy.record({ at: s(-700), kind: 'crash', reason: 'old' });
    policy.record({ at: s(0), kind: 'rolling', reason: 'deploy', restartId: 'r-1', override: true });
    policy.record({ at: s(1), kind: 'watchdog', reason: 'watchdog: unresponsive', slot: 2 });
    expect(policy.historyView(s(2))).toEqual([
      { at: new Date(s(0)).toISOString(), kind: 'rolling', reason: 'deploy', restartId: 'r-1', slot: null, override: true, planned: true },
      { at: new Date(s(1)).toISOString(), kind: 'watchdog', reason: 'watchdog: unresponsive', restartId: null, slot: 2, override: false, planned: false },
    ]);
  });

  it('records planned (rolling) restarts without counting them: no block, no cooldown', () => {
    const policy = make();
    for (const at of [0, 30, 60, 90, 120]) policy.record(entry(s(at), 'rolling'));
    expect(policy.evaluate(s(121))).toMatchObject({ state: 'allowed', restartsInWindow: 0, plannedInWindow: 5, cooldownRemainingS: 0, exceeded: false });
    expect(policy.msUntilAllowed(s(121))).toBe(0);
    expect(policy.historyView(s(121))).toHaveLength(5);
    // Crashes among them still count, and only they start the cooldown.
    for (const at of [130, 140, 150, 160]) policy.record(entry(s(at), 'crash'));
    policy.record(entry(s(170), 'rolling'));
    expect(policy.evaluate(s(171))).toMatchObject({ state: 'blocked', restartsInWindow: 4, plannedInWindow: 6 });
    // The block lifts when the crash at 130 leaves the window (730), rollouts do not hold it.
    expect(policy.msUntilAllowed(s(171))).toBe(559_000);
  });

  it('does not let callers mutate stored entries', () => {
    const policy = make();
    const record = entry(s(0));
    policy.record(record);
    record.at = s(-10_000);
    policy.entries()[0]!.at = s(-10_000);
    expect(policy.evaluate(s(1)).restartsInWindow).toBe(1);
  });

  it('rejects a capacity that could never exceed the threshold', () => {
    expect(() => new RestartPolicy({ windowS: 60, max: 3, cooldownS: 0, capacity: 3 })).toThrow(RangeError);
    expect(() => new RestartPolicy({ windowS: 0, max: 3, cooldownS: 0 })).toThrow(RangeError);
    expect(() => new RestartPolicy({ windowS: 60, max: -1, cooldownS: 0 })).toThrow(RangeError);
  });
});
