import { describe, expect, it } from 'vitest';
import { parsePrimaryMessage, parseWorkerMessage } from './protocol.js';

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
});
