import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AdmissionConfig } from '../../config/rampart-config.js';
import { AdmissionController } from './admission-controller.js';

const CONFIG: AdmissionConfig = {
  enabled: true,
  initialLimit: 2,
  minLimit: 2,
  maxLimit: 2,
  queueSize: 2,
  queueTargetMs: 5,
  queueIntervalMs: 50,
  shedLagMs: 50,
  priorityLimit: 1,
  passwordHash: { concurrency: 1, queueSize: 1, queueTimeoutMs: 100 },
};

class FakeResponse extends EventEmitter {
  status: number | null = null;
  headers: Record<string, unknown> = {};
  body = '';
  destroyed = false;
  writableFinished = false;
  writeHead(status: number, headers: Record<string, unknown> | string[]) {
    this.status = status;
    // Node's flat form: name, value, name, value...
    this.headers = Array.isArray(headers) ? Object.fromEntries(headers.flatMap((v, i) => (i % 2 === 0 ? [[v, headers[i + 1]]] : []))) : headers;
    return this;
  }
  end(body = '') {
    this.body = body;
    this.writableFinished = true;
    this.emit('close');
  }
  finish() {
    this.writableFinished = true;
    this.emit('close');
  }
}

function harness(overrides: Partial<AdmissionConfig> = {}) {
  let clock = 0;
  const logger = { info: vi.fn(), warn: vi.fn() };
  const controller = new AdmissionController({ ...CONFIG, ...overrides }, { lagMs: () => 0 }, logger, () => clock);
  const send = (url: string, cookie?: string) => {
    const res = new FakeResponse();
    const next = vi.fn();
    const req = { url, headers: cookie ? { cookie } : {} } as unknown as IncomingMessage;
    controller.middleware(req, res as unknown as ServerResponse, next);
    return { res, next };
  };
  return { controller, logger, send, advance: (ms: number) => (clock += ms) };
}

describe('AdmissionController', () => {
  afterEach(() => vi.useRealTimers());

  it('admits up to the limit, queues a little, and refuses the rest at once with the contract envelope', () => {
    const { send, logger } = harness();
    const admitted = [send('/api/lots', 'sid=x'), send('/api/lots', 'sid=x')];
    expect(admitted.every((a) => a.next.mock.calls.length === 1)).toBe(true);
    const queued = [send('/api/lots', 'sid=x'), send('/api/lots', 'sid=x')];
    expect(queued.every((q) => q.next.mock.calls.length === 0 && q.res.status === null)).toBe(true);
    const refused = send('/api/lots', 'sid=x');
    expect(refused.next).not.toHaveBeenCalled();
    expect(refused.res.status).toBe(503);
    expect(refused.res.headers['Retry-After']).toBe('1');
    expect(JSON.parse(refused.res.body)).toMatchObject({ error: { code: 'OVERLOADED', retryable: true, retryAfterMs: 1000 } });
    expect(refused.res.headers['X-Correlation-ID']).toEqual(expect.any(String));
    expect(logger.warn).toHaveBeenCalledTimes(1);
    send('/api/lots', 'sid=x');
    // One line per state change, not one per refusal.
    expect(logger.warn).toHaveBeenCalledTimes(1);
    admitted[0]!.res.finish();
    expect(queued[0]!.next).toHaveBeenCalledTimes(1);
  });

  it('lets a signed-in request displace a queued anonymous one, never the other way round', () => {
    const { send } = harness();
    send('/api/lots', 'sid=x');
    send('/api/lots', 'sid=x');
    const anon = [send('/api/lots'), send('/api/lots')];
    const user = send('/api/lots', 'sid=x');
    expect(user.res.status).toBeNull();
    expect(anon[1]!.res.status).toBe(503);
    expect(send('/api/lots').res.status).toBe(503);
  });

  it('refuses a queued request whose wait passed its deadline instead of serving it late', () => {
    const { send, advance } = harness();
    const first = send('/api/lots', 'sid=x');
    send('/api/lots', 'sid=x');
    const waiting = send('/api/lots', 'sid=x');
    advance(60);
    first.res.finish();
    expect(waiting.next).not.toHaveBeenCalled();
    expect(waiting.res.status).toBe(503);
  });

  it('gives metrics and admin their own budget, untouched by the general limit, and never refuses a probe', () => {
    const { send } = harness();
    for (let i = 0; i < 5; i += 1) send('/api/lots', 'sid=x');
    const scrape = send('/metrics');
    expect(scrape.next).toHaveBeenCalledTimes(1);
    expect(send('/admin/api/audit').res.status).toBe(503);
    for (let i = 0; i < 50; i += 1) expect(send('/health/live').next).toHaveBeenCalledTimes(1);
    scrape.res.finish();
    expect(send('/admin/api/audit').next).toHaveBeenCalledTimes(1);
  });

  it('cuts the limit below its floor while the event loop lags past the shedding threshold', () => {
    vi.useFakeTimers();
    let lag = 100;
    const controller = new AdmissionController({ ...CONFIG, initialLimit: 8, minLimit: 8, maxLimit: 8 }, { lagMs: () => lag }, { info: vi.fn(), warn: vi.fn() }, () => Date.now());
    controller.start();
    vi.advanceTimersByTime(1000);
    expect(controller.limit).toBe(4);
    lag = 0;
    vi.advanceTimersByTime(100);
    expect(controller.limit).toBe(8);
    controller.stop();
  });

  it('leaves the limit alone when the lag is not its own doing (the process itself nearly idle)', () => {
    vi.useFakeTimers();
    const controller = new AdmissionController(
      { ...CONFIG, initialLimit: 8, minLimit: 8, maxLimit: 8 },
      { lagMs: () => 100, cpuShare: () => 0.1 },
      { info: vi.fn(), warn: vi.fn() },
      () => Date.now(),
    );
    controller.start();
    vi.advanceTimersByTime(1000);
    expect(controller.limit).toBe(8);
    controller.stop();
  });

  it('refuses at once a request the measured service time says would wait past its time', () => {
    vi.useFakeTimers();
    let clock = 0;
    const controller = new AdmissionController({ ...CONFIG, queueSize: 10 }, { lagMs: () => 0 }, { info: vi.fn(), warn: vi.fn() }, () => clock);
    const refusals: string[] = [];
    controller.onRefused((r) => refusals.push(r.reason));
    const send = () => {
      const res = new FakeResponse();
      const next = vi.fn();
      controller.middleware({ url: '/api/lots', headers: { cookie: 'sid=x' } } as unknown as IncomingMessage, res as unknown as ServerResponse, next);
      return { res, next };
    };
    controller.start();
    // Learn a 20 ms service time at the limit of 2: one queued request already waits ~10 ms.
    for (let i = 0; i < 6; i += 1) {
      const pair = [send(), send()];
      clock += 20;
      for (const p of pair) p.res.finish();
    }
    vi.advanceTimersByTime(100);
    send();
    send();
    // Each waiter adds 20 ms / 2 slots = 10 ms: five fit the 50 ms a burst may wait, the sixth
    // is refused on arrival (no timer, no wait).
    const queued = [send(), send(), send(), send(), send()];
    expect(queued.every((q) => q.res.status === null)).toBe(true);
    const refused = [send(), send()];
    expect(refused.every((r) => r.res.status === 503)).toBe(true);
    expect(refusals).toEqual(['queue_full', 'queue_full']);
    controller.stop();
  });

  it('answers through gate() before the wrapped handler, and refuses a full bulkhead\'s routes up front', async () => {
    const { controller } = harness();
    const bulkhead = controller.bulkhead('hash', { concurrency: 1, queueSize: 0, queueTimeoutMs: 100 }, ['POST /api/auth/login']);
    let release!: () => void;
    const held = bulkhead.run(() => new Promise<void>((r) => (release = r)));
    const handler = vi.fn();
    const listener = controller.gate(handler);
    const login = new FakeResponse();
    listener({ method: 'POST', url: '/api/auth/login?x=1', headers: {} } as unknown as IncomingMessage, login as unknown as ServerResponse);
    expect(login.status).toBe(503);
    expect(handler).not.toHaveBeenCalled();
    expect(bulkhead.snapshot().refused).toBe(1);
    const csrf = new FakeResponse();
    listener({ method: 'GET', url: '/api/auth/csrf', headers: {} } as unknown as IncomingMessage, csrf as unknown as ServerResponse);
    expect(handler).toHaveBeenCalledTimes(1);
    release();
    await held;
    listener({ method: 'POST', url: '/api/auth/login', headers: {} } as unknown as IncomingMessage, new FakeResponse() as unknown as ServerResponse);
    expect(handler).toHaveBeenCalledTimes(2);
  });

  it('shrinks the limit on slow answers only while the worker itself is saturated, not when starved by others', () => {
    vi.useFakeTimers();
    const run = (cpuShare: number) => {
      const controller = new AdmissionController(
        { ...CONFIG, initialLimit: 8, minLimit: 2, maxLimit: 8, queueSize: 0 },
        { lagMs: () => 0, cpuShare: () => cpuShare, loopBusy: () => 1 },
        { info: vi.fn(), warn: vi.fn() },
        () => Date.now(),
      );
      controller.start();
      const wave = (ms: number) => {
        const responses = Array.from({ length: 8 }, () => {
          const res = new FakeResponse();
          controller.middleware({ url: '/api/lots', headers: { cookie: 'sid=x' } } as unknown as IncomingMessage, res as unknown as ServerResponse, vi.fn());
          return res;
        });
        vi.advanceTimersByTime(ms);
        for (const res of responses) res.finish();
      };
      for (let i = 0; i < 20; i += 1) wave(1);
      vi.advanceTimersByTime(1000);
      for (let i = 0; i < 30; i += 1) wave(100);
      controller.stop();
      return controller.limit;
    };
    expect(run(0.1)).toBe(8);
    expect(run(1)).toBeLessThan(8);
  });

  it('lets users who wait for their answers queue up to the interval, and holds an open stream to the target', () => {
    vi.useFakeTimers();
    const run = (extraPerAnswer: number) => {
      const controller = new AdmissionController(
        { ...CONFIG, initialLimit: 2, minLimit: 2, maxLimit: 2, queueSize: 8, queueTargetMs: 5, queueIntervalMs: 100 },
        { lagMs: () => 0 },
        { info: vi.fn(), warn: vi.fn() },
        () => Date.now(),
      );
      controller.start();
      const settledAt = Date.now() + 1500;
      let longestWaitMs = 0;
      controller.onQueueTime((seconds, _lane, admitted) => {
        // Once the last second of arrivals is all of this pattern.
        if (admitted && Date.now() >= settledAt) longestWaitMs = Math.max(longestWaitMs, seconds * 1000);
      });
      const inService: FakeResponse[] = [];
      let refused = 0;
      const send = () => {
        const res = new FakeResponse();
        // Admitted now or later (from the queue): then in service until answered.
        controller.middleware({ url: '/api/lots', headers: { cookie: 'sid=x' } } as unknown as IncomingMessage, res as unknown as ServerResponse, () => inService.push(res));
        if (res.status === 503) refused += 1;
        return res;
      };
      // Six users, each sending again as soon as answered (refused or not); two in service at a
      // time for 10 ms each, so four wait about 20 ms: more than the target, less than the interval.
      for (let i = 0; i < 6; i += 1) send();
      for (let t = 0; t < 300; t += 1) {
        vi.advanceTimersByTime(10);
        for (const res of inService.splice(0, 2)) {
          res.finish();
          send();
          for (let j = 0; j < extraPerAnswer; j += 1) send();
        }
      }
      controller.stop();
      const shed = [...controller.snapshot().shed.values()].reduce((a, b) => a + b, 0);
      return { refused, shed, longestWaitMs };
    };
    const closed = run(0);
    expect(closed).toMatchObject({ refused: 0, shed: 0 });
    expect(closed.longestWaitMs).toBeGreaterThan(5);
    // The same users plus an open stream of three more requests per answer: the excess is
    // refused, and what is admitted waited no longer than the target.
    const open = run(3);
    expect(open.shed).toBeGreaterThan(500);
    expect(open.longestWaitMs).toBeLessThanOrEqual(5);
  });

  it('switched off, counts but never refuses', () => {
    const { send, controller } = harness({ enabled: false });
    const all = Array.from({ length: 10 }, () => send('/api/lots'));
    expect(all.every((a) => a.next.mock.calls.length === 1)).toBe(true);
    expect(controller.snapshot()).toMatchObject({ limit: null, inFlight: 10, shedRate: 0 });
  });
});
