import { describe, expect, it } from 'vitest';
import { Bulkhead } from './bulkhead.js';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

describe('Bulkhead', () => {
  it('runs at most `concurrency` at once, queues a bounded few, refuses the rest with OVERLOADED', async () => {
    const bulkhead = new Bulkhead('password-hash', { concurrency: 1, queueSize: 1, queueTimeoutMs: 1000 });
    const gate = deferred();
    let running = 0;
    let peak = 0;
    const work = async () => {
      running += 1;
      peak = Math.max(peak, running);
      await gate.promise;
      running -= 1;
    };
    const first = bulkhead.run(work);
    const second = bulkhead.run(work);
    await expect(bulkhead.run(work)).rejects.toMatchObject({ code: 'OVERLOADED', retryAfterMs: 1000 });
    expect(bulkhead.snapshot()).toMatchObject({ active: 1, queued: 1, refused: 1 });
    gate.resolve();
    await Promise.all([first, second]);
    expect(peak).toBe(1);
    expect(bulkhead.snapshot()).toMatchObject({ active: 0, queued: 0 });
  });

  it('refuses a waiter after its queue timeout rather than running it late', async () => {
    const bulkhead = new Bulkhead('password-hash', { concurrency: 1, queueSize: 5, queueTimeoutMs: 20 });
    const gate = deferred();
    const first = bulkhead.run(() => gate.promise);
    await expect(bulkhead.run(async () => undefined)).rejects.toMatchObject({ code: 'OVERLOADED' });
    gate.resolve();
    await first;
  });

  it('with concurrency 0 only counts', async () => {
    const bulkhead = new Bulkhead('password-hash', { concurrency: 0, queueSize: 0, queueTimeoutMs: 1 });
    const gate = deferred();
    const all = Array.from({ length: 5 }, () => bulkhead.run(() => gate.promise));
    expect(bulkhead.snapshot().active).toBe(5);
    gate.resolve();
    await Promise.all(all);
  });
});
