import { EventEmitter } from 'node:events';
import type { Request, Response } from 'express';
import type { DestinationStream } from 'pino';
import { describe, expect, it } from 'vitest';
import { createRootLogger } from './logger.js';
import { requestContext } from './request-context.js';
import { requestLogger } from './request-logger.js';

/** A destination keeping every line; `metadata` makes pino treat it as a multistream would. */
function sink(metadata = false): DestinationStream & { lines: string[] } {
  const lines: string[] = [];
  const stream = { lines, write: (line: string) => void lines.push(line) };
  if (metadata) Object.assign(stream, { [Symbol.for('pino.metadata')]: true });
  return stream as unknown as DestinationStream & { lines: string[] };
}

interface Served {
  status?: number;
  finished?: boolean;
  url?: string;
  userId?: number | string;
  /** Ends the request outside its async context, as a late 'close' may. */
  closeOutside?: boolean;
}

/** Runs one request through the middleware (inside its log context) and ends it. */
function serve(destination: DestinationStream, served: Served = {}, level = 'info', warnLines: string[] = []): void {
  const logger = createRootLogger({ level, destination, base: { pid: 42 }, onWarnLine: (line) => warnLines.push(line) });
  const middleware = requestLogger(logger);
  const url = served.url ?? '/api/lots/7?token=QuerySecret';
  const req = { method: 'GET', url, originalUrl: url, route: { path: '/api/lots/:id' } } as unknown as Request;
  const res = Object.assign(new EventEmitter(), { statusCode: served.status ?? 200, writableFinished: served.finished ?? true, locals: {} }) as unknown as Response;
  requestContext.run({ correlationId: 'corr-1' }, () => {
    middleware(req, res, () => {
      if (served.userId !== undefined) requestContext.setUser(served.userId);
      if (!served.closeOutside) res.emit('close');
    });
  });
  if (served.closeOutside) res.emit('close');
}

/** Time and latency differ between two runs; everything else must match byte for byte. */
const comparable = (line: string) => line.replace(/"time":"[^"]+"/, '"time":"T"').replace(/"responseTimeMs":[0-9.]+/, '"responseTimeMs":0');

describe('requestLogger', () => {
  it("writes a successful request's line with the bytes pino writes for the same object", () => {
    for (const userId of [undefined, 7, 'u-1']) {
      const direct = sink();
      const viaPino = sink(true);
      serve(direct, { userId });
      serve(viaPino, { userId });
      expect(direct.lines).toHaveLength(1);
      expect(viaPino.lines).toHaveLength(1);
      expect(comparable(direct.lines[0]!)).toBe(comparable(viaPino.lines[0]!));
      const line = JSON.parse(direct.lines[0]!) as Record<string, unknown>;
      expect(line).toMatchObject({ level: 'info', pid: 42, correlationId: 'corr-1', req: { method: 'GET', url: '/api/lots/7' }, res: { statusCode: 200 }, route: '/api/lots/:id', msg: 'GET /api/lots/:id 200' });
      expect(line.userId).toBe(userId);
      expect(typeof line.responseTimeMs).toBe('number');
      expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
  });

  it('redacts credentials in the path as the log formatter does, and never writes the query string', () => {
    const direct = sink();
    const viaPino = sink(true);
    serve(direct, { url: '/api/x/postgres://app:s3cret@db/y?password=QuerySecret' });
    serve(viaPino, { url: '/api/x/postgres://app:s3cret@db/y?password=QuerySecret' });
    expect(comparable(direct.lines[0]!)).toBe(comparable(viaPino.lines[0]!));
    expect(direct.lines[0]).not.toContain('s3cret');
    expect(direct.lines[0]).not.toContain('QuerySecret');
  });

  it('keeps the ids when the request ends outside its async context', () => {
    const direct = sink();
    serve(direct, { userId: 7, closeOutside: true });
    expect(JSON.parse(direct.lines[0]!)).toMatchObject({ correlationId: 'corr-1', userId: 7 });
  });

  it('writes nothing at info when the level is above info', () => {
    const direct = sink();
    serve(direct, {}, 'warn');
    expect(direct.lines).toEqual([]);
  });

  it('sends failed and abandoned requests through pino, so their warn and error lines reach the console', () => {
    const warnLines: string[] = [];
    const direct = sink();
    serve(direct, { status: 404 }, 'info', warnLines);
    serve(direct, { finished: false }, 'info', warnLines);
    serve(direct, { status: 500 }, 'info', warnLines);
    expect(direct.lines.map((line) => JSON.parse(line) as Record<string, unknown>)).toMatchObject([
      { level: 'warn', errorCode: 'HTTP_404', res: { statusCode: 404 } },
      { level: 'warn', aborted: true, msg: 'GET /api/lots/:id 200 (client went away)' },
      { level: 'error', errorCode: 'HTTP_500' },
    ]);
    expect(warnLines).toHaveLength(3);
  });
});
