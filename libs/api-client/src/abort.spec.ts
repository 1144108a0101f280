import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { abortableSleep, raceAbort } from './abort.js';

describe('abortableSleep', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('resolves after the delay and leaves no timer behind', async () => {
    let done = false;
    void abortableSleep(500).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(499);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects with the abort reason at once and clears its timer', async () => {
    const controller = new AbortController();
    const sleeping = abortableSleep(10_000, controller.signal);
    const reason = new Error('user left the page');
    controller.abort(reason);
    await expect(sleeping).rejects.toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects without scheduling anything when already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(abortableSleep(100, controller.signal)).rejects.toMatchObject({ name: 'AbortError' });
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('raceAbort', () => {
  it('rejects on abort while the raced work carries on for others', async () => {
    const controller = new AbortController();
    let resolveShared: (value: string) => void = () => undefined;
    const shared = new Promise<string>((resolve) => (resolveShared = resolve));
    const mine = raceAbort(shared, controller.signal);
    const theirs = raceAbort(shared, undefined);
    controller.abort(new Error('stop'));
    await expect(mine).rejects.toThrow('stop');
    resolveShared('token');
    await expect(theirs).resolves.toBe('token');
  });
});
