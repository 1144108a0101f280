import { ServerResponse, IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { appendListItem, limitItem, policyItem } from './rate-limit.headers.js';

describe('IETF RateLimit fields', () => {
  it('formats the policy and the current state as draft-11 items', () => {
    expect(policyItem({ name: 'login', limit: 10, windowMs: 60_000 })).toBe('"login";q=10;w=60');
    expect(policyItem({ name: 'reset', limit: 5, windowMs: 3_600_000 })).toBe('"reset";q=5;w=3600');
    expect(limitItem('login', 3, 42)).toBe('"login";r=3;t=42');
    expect(limitItem('login', -2, 42)).toBe('"login";r=0;t=42');
  });

  it('lists several policies in one field line', () => {
    const res = new ServerResponse(new IncomingMessage(new Socket()));
    appendListItem(res, 'RateLimit', limitItem('login', 9, 60));
    appendListItem(res, 'RateLimit', limitItem('account', 99, 60));
    expect(res.getHeader('RateLimit')).toBe('"login";r=9;t=60, "account";r=99;t=60');
  });
});
