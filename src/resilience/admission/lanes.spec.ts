import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { laneOf } from './lanes.js';

const req = (url: string, cookie?: string) => ({ url, headers: cookie === undefined ? {} : { cookie } }) as IncomingMessage;

describe('laneOf', () => {
  it('puts probes in their own lane, metrics and the operator console in the priority lane, by whole path segment', () => {
    for (const url of ['/health', '/health/live', '/health/deep?x=1']) expect(laneOf(req(url)), url).toBe('probe');
    for (const url of ['/metrics', '/admin', '/admin/api/audit?limit=5']) expect(laneOf(req(url)), url).toBe('priority');
    expect(laneOf(req('/healthz'))).toBe('anonymous');
    expect(laneOf(req('/administrator', 'sid=s%3Aa.b'))).toBe('user');
  });

  it('tells sign-in, signed-in, anonymous and stream requests apart without any I/O', () => {
    expect(laneOf(req('/api/auth/login'))).toBe('signin');
    expect(laneOf(req('/login'))).toBe('signin');
    expect(laneOf(req('/api/lots', 'theme=dark; sid=s%3Aabc.def'))).toBe('user');
    expect(laneOf(req('/api/lots', '__Host-sid=s%3Aabc.def'))).toBe('user');
    expect(laneOf(req('/api/lots', 'xsid=1'))).toBe('anonymous');
    expect(laneOf(req('/api/lots'))).toBe('anonymous');
    expect(laneOf(req('/api/events/stream', 'sid=s%3Aa.b'))).toBe('stream');
  });
});
