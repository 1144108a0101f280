import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LogLevelControl } from './log-level.js';

describe('LogLevelControl', () => {
  beforeEach(() => vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') }));
  afterEach(() => vi.useRealTimers());

  function setup() {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const child = logger.child({ component: 'x' });
    return { logger, child, lines, control: new LogLevelControl(logger, 'info') };
  }

  it('sets the level for the root and its children, and reverts by itself when the time is up', () => {
    const { logger, child, control } = setup();
    control.apply({ type: 'logLevel', level: 'debug', remainingMs: 60_000, revertsAt: '', reason: 'incident 42', setBy: 'admin' });
    expect(logger.level).toBe('debug');
    expect(child.isLevelEnabled('debug')).toBe(true);
    expect(control.view()).toEqual({
      level: 'debug',
      configured: 'info',
      override: { level: 'debug', revertsAt: '2026-01-01T00:01:00.000Z', reason: 'incident 42', setBy: 'admin' },
    });
    vi.advanceTimersByTime(59_999);
    expect(logger.level).toBe('debug');
    vi.advanceTimersByTime(1);
    expect(logger.level).toBe('info');
    expect(child.isLevelEnabled('debug')).toBe(false);
    expect(control.view()).toEqual({ level: 'info', configured: 'info', override: null });
  });

  it('reverts at once on a revert message, and a new level replaces the running one and its timer', () => {
    const { logger, control, lines } = setup();
    control.apply({ type: 'logLevel', level: 'trace', remainingMs: 10_000, revertsAt: '2026-01-01T00:00:10.000Z', reason: 'a', setBy: 'x' });
    control.apply({ type: 'logLevel', level: 'warn', remainingMs: 30_000, revertsAt: '2026-01-01T00:00:30.000Z', reason: 'b', setBy: 'y' });
    vi.advanceTimersByTime(10_000);
    expect(logger.level).toBe('warn');
    control.apply({ type: 'logLevel', level: null, remainingMs: 0, revertsAt: '', reason: 'b', setBy: 'y' });
    expect(logger.level).toBe('info');
    vi.advanceTimersByTime(60_000);
    expect(logger.level).toBe('info');
    expect(lines.filter((l) => typeof l['msg'] === 'string' && (l['msg'] as string).startsWith('log level back to LOG_LEVEL info'))).toHaveLength(1);
  });
});
