import { describe, expect, it } from 'vitest';
import { parsePrimaryMessage, parseWorkerMessage, RECENT_LOG_LINES, type TelemetryDelta } from './protocol.js';

describe('protocol parsing', () => {
  it('accepts the worker messages and drops unknown fields', () => {
    expect(parseWorkerMessage({ type: 'ready', extra: 1 })).toEqual({ type: 'ready' });
    expect(parseWorkerMessage({ type: 'heartbeat', lagMs: 12.5, at: 5 })).toEqual({ type: 'heartbeat', lagMs: 12.5, at: 5 });
    expect(parseWorkerMessage({ type: 'request', id: '1:1', op: 'status' })).toEqual({ type: 'request', id: '1:1', op: 'status' });
    expect(parseWorkerMessage({ type: 'stopping', signal: 'SIGTERM', pid: 1 })).toEqual({ type: 'stopping', signal: 'SIGTERM' });
    expect(parseWorkerMessage({ type: 'stopping' })).toEqual({ type: 'stopping', signal: 'signal' });
    expect(
      parseWorkerMessage({
        type: 'request',
        id: '1:2',
        op: 'rollingRestart',
        payload: { reason: 'deploy', acknowledgeOverride: 'yes', restartId: 'r', requestedBy: 'alice', other: true },
      }),
    ).toEqual({ type: 'request', id: '1:2', op: 'rollingRestart', payload: { reason: 'deploy', restartId: 'r', requestedBy: 'alice' } });
  });

  it('rejects malformed worker messages', () => {
    for (const raw of [
      null,
      'ready',
      [],
      { type: 'heartbeat' },
      { type: 'heartbeat', lagMs: Number.NaN },
      { type: 'heartbeat', lagMs: -1 },
      { type: 'request', id: '', op: 'status' },
      { type: 'request', id: 'x', op: 'eval' },
      { type: 'request', id: 'x', op: 'rollingRestart' },
      { type: 'shutdown' },
    ]) {
      expect(parseWorkerMessage(raw)).toBeNull();
    }
  });

  it('parses primary messages with safe defaults', () => {
    expect(parsePrimaryMessage({ type: 'shutdown' })).toEqual({ type: 'shutdown', reason: 'shutdown', deadlineMs: 0 });
    // A stop of the whole service carries the drain delay; a rolling restart's retirement does not.
    expect(parsePrimaryMessage({ type: 'shutdown', reason: 'stop', deadlineMs: 9000, drainDelayMs: 5000 })).toEqual({
      type: 'shutdown',
      reason: 'stop',
      deadlineMs: 9000,
      drainDelayMs: 5000,
    });
    expect(parsePrimaryMessage({ type: 'shutdown', deadlineMs: 9000, drainDelayMs: -1 })).toEqual({ type: 'shutdown', reason: 'shutdown', deadlineMs: 9000 });
    expect(parsePrimaryMessage({ type: 'response', id: 'a', ok: true, result: 1 })).toEqual({ type: 'response', id: 'a', ok: true, result: 1 });
    expect(parsePrimaryMessage({ type: 'response', id: 'a', ok: false })).toEqual({
      type: 'response',
      id: 'a',
      ok: false,
      error: { code: 'INTERNAL', message: 'supervisor error' },
    });
    expect(parsePrimaryMessage({ type: 'ready' })).toBeNull();
  });

  it('heartbeat telemetry is bounded and typed: odd codes, missing fields and extra lines do not get through', () => {
    const beat = parseWorkerMessage({
      type: 'heartbeat',
      lagMs: 1,
      heapUsedBytes: 10,
      telemetry: {
        buckets: [
          { t: 10_000, requests: 3, errors: { DB_QUERY_TIMEOUT: 1, HTTP_404: 2, '<b>x</b>': 9 }, latency: [1, 'x'], breaker: 7, rssBytes: -1 },
          { requests: 1 },
        ],
        logs: [...Array.from({ length: RECENT_LOG_LINES + 5 }, (_, i) => ({ seq: i, level: 'error', msg: 'm'.repeat(900), at: 'now' })), { level: 'warn' }],
      },
    });
    expect(beat).toMatchObject({ type: 'heartbeat', heapUsedBytes: 10 });
    const telemetry = (beat as { telemetry: TelemetryDelta }).telemetry;
    expect(telemetry.buckets).toHaveLength(1);
    expect(telemetry.buckets[0]).toMatchObject({ t: 10_000, requests: 3, errors: { DB_QUERY_TIMEOUT: 1, HTTP_404: 2 }, breaker: 2, rssBytes: 0, poolWaiting: 0 });
    expect(Object.keys(telemetry.buckets[0]!.errors)).toEqual(['DB_QUERY_TIMEOUT', 'HTTP_404']);
    expect(telemetry.buckets[0]!.latency).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(telemetry.logs.length).toBeLessThanOrEqual(RECENT_LOG_LINES);
    expect(telemetry.logs[0]!.msg).toHaveLength(500);
    expect(parseWorkerMessage({ type: 'request', id: 'x:1', op: 'telemetry', payload: { minutes: 15 } })).toEqual({ type: 'request', id: 'x:1', op: 'telemetry', payload: { minutes: 15 } });
    expect(parseWorkerMessage({ type: 'request', id: 'x:2', op: 'telemetry' })).toMatchObject({ payload: { minutes: 60 } });
  });
});
