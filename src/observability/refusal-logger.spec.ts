import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { refusalLogger } from './request-logger.js';

describe('refusalLogger', () => {
  it('logs refusals one by one up to the per-second budget, then one summary line for the rest of that second', () => {
    vi.useFakeTimers();
    try {
      const warn = vi.fn();
      let clock = 5_000;
      const log = refusalLogger({ warn } as unknown as Logger, 3, () => clock);
      const refusal = { req: { method: 'GET', url: '/api/lots/7?token=x' } as IncomingMessage, lane: 'user', reason: 'queue_full', correlationId: 'c-1', ms: 0 };
      for (let i = 0; i < 10; i += 1) log(refusal);
      expect(warn).toHaveBeenCalledTimes(3);
      expect(warn.mock.calls[0]![0]).toMatchObject({ req: { method: 'GET', url: '/api/lots/7' }, res: { statusCode: 503 }, errorCode: 'OVERLOADED', admission: { lane: 'user', reason: 'queue_full' }, correlationId: 'c-1' });
      clock += 1000;
      vi.advanceTimersByTime(1000);
      expect(warn).toHaveBeenCalledTimes(4);
      expect(warn.mock.calls[3]![0]).toMatchObject({ errorCode: 'OVERLOADED', refusedUnlogged: 7 });
      log(refusal);
      expect(warn).toHaveBeenCalledTimes(5);
    } finally {
      vi.useRealTimers();
    }
  });
});
