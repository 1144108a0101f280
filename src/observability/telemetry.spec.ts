import { describe, expect, it } from 'vitest';
import { TELEMETRY_BUCKETS } from '../cluster/protocol.js';
import { isWarnOrWorse, TelemetryRecorder } from './telemetry.js';
import { createRootLogger } from './logger.js';

describe('TelemetryRecorder', () => {
  it('counts requests, errors by code and shed answers in 10 s buckets', () => {
    let now = 20_000;
    const recorder = new TelemetryRecorder(() => now);
    recorder.observeRequest(200, 3, null);
    recorder.observeRequest(504, 1200, 'DB_QUERY_TIMEOUT');
    recorder.observeRequest(503, 1, 'OVERLOADED');
    now = 31_000;
    recorder.observeRequest(200, 7, null);
    const [first, second] = recorder.full().buckets;
    expect(first).toMatchObject({ t: 20_000, requests: 3, errors: { DB_QUERY_TIMEOUT: 1, OVERLOADED: 1 }, shed: 1 });
    expect(first!.latency[0]).toBe(2);
    expect(first!.latency[8]).toBe(1); // <= 2500 ms
    expect(second).toMatchObject({ t: 30_000, requests: 1 });
  });

  it('keeps warn and worse lines with their ids, hands each out once, and stays bounded', () => {
    let now = 0;
    const recorder = new TelemetryRecorder(() => now);
    recorder.recordLogLine('{"level":"info","msg":"fine"}');
    recorder.recordLogLine('{"level":"error","time":"2025-01-01T00:00:00.000Z","msg":"GET /api/lots 504","correlationId":"c-1","errorCode":"DB_QUERY_TIMEOUT","route":"/api/lots","res":{"statusCode":504}}');
    recorder.recordLogLine('not json');
    const first = recorder.delta();
    expect(first.logs).toEqual([
      { seq: 1, at: '2025-01-01T00:00:00.000Z', level: 'error', msg: 'GET /api/lots 504', correlationId: 'c-1', errorCode: 'DB_QUERY_TIMEOUT', route: '/api/lots', status: 504 },
    ]);
    expect(recorder.delta().logs).toEqual([]);
    for (let i = 0; i < TELEMETRY_BUCKETS + 20; i += 1) {
      now += 10_000;
      recorder.observeRequest(200, 1, null);
    }
    expect(recorder.full().buckets).toHaveLength(TELEMETRY_BUCKETS);
    expect(recorder.delta().buckets).toHaveLength(2);
  });

  it('the logger hook looks only at warn, error and fatal lines', () => {
    expect(isWarnOrWorse('{"level":"warn","msg":"x"}')).toBe(true);
    expect(isWarnOrWorse('{"level":"fatal","msg":"x"}')).toBe(true);
    expect(isWarnOrWorse('{"level":"info","msg":"level warn"}')).toBe(false);
  });
});

describe('recent lines through the root logger', () => {
  it('are the redacted lines: credentials in messages and secret fields never reach the console', () => {
    const recorder = new TelemetryRecorder();
    const sink = { write: () => true };
    const logger = createRootLogger({ level: 'info', destination: sink, onWarnLine: (line) => recorder.recordLogLine(line) });
    logger.info('quiet line');
    logger.warn({ password: 'hunter2', errorCode: 'DB_UNAVAILABLE' }, 'cannot reach postgres://app:s3cret@db:5432/rampart');
    const [line, ...rest] = recorder.full().logs;
    expect(rest).toEqual([]);
    expect(line).toMatchObject({ level: 'warn', errorCode: 'DB_UNAVAILABLE', msg: 'cannot reach postgres://app:[REDACTED]@db:5432/rampart' });
    expect(JSON.stringify(line)).not.toContain('s3cret');
  });
});
