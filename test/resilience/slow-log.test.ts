import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbUnavailableException } from '../../src/core/errors/index.js';
import { BreakerService, MAIN_DB_BREAKER } from '../../src/resilience/breaker.service.js';
import { startTestApp, type TestApp } from '../support/app.js';

const WRITE_MS = 100;

/** A log destination that takes WRITE_MS per line, like a blocked pipe or a slow collector. */
class SlowDestination extends Writable {
  written = 0;
  constructor() {
    super({ highWaterMark: 1 });
  }
  override _write(_chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    setTimeout(() => {
      this.written += 1;
      callback();
    }, WRITE_MS);
  }
}

describe('logging never blocks request handling', () => {
  let app: TestApp;
  const destination = new SlowDestination();
  beforeAll(async () => {
    app = await startTestApp({ BREAKER_MIN_VOLUME: '3' }, { logDestination: destination });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('serves concurrent requests without queueing them behind a slow log destination', async () => {
    const count = 30;
    const started = performance.now();
    const responses = await Promise.all(Array.from({ length: count }, (_, i) => fetch(`${app.url}/nope/${i}`)));
    const elapsed = performance.now() - started;
    expect(responses.every((r) => r.status === 404)).toBe(true);
    // Serialised behind the destination this would take count × WRITE_MS = 3 s.
    expect(elapsed).toBeLessThan((count * WRITE_MS) / 3);
  });

  it('reports a breaker state change at once, before its log line is written', async () => {
    const breaker = app.app.get<BreakerService>(MAIN_DB_BREAKER);
    const writtenBefore = destination.written;
    for (let i = 0; i < 3; i += 1) {
      await breaker.execute(() => Promise.reject(new DbUnavailableException(1000))).catch(() => undefined);
    }
    expect(breaker.snapshot().state).toBe('open');
    await expect(breaker.execute(() => Promise.resolve(1))).rejects.toMatchObject({ code: 'DB_CIRCUIT_OPEN' });
    // The destination is still far behind: nothing above waited for it.
    expect(destination.written - writtenBefore).toBeLessThan(3);
  });
});
