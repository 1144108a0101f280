import type { ServerResponse } from 'node:http';
import type { RatePolicy } from './rate-limit.policies.js';

export const RATE_LIMIT_POLICY_HEADER = 'RateLimit-Policy';
export const RATE_LIMIT_HEADER = 'RateLimit';

/** `"login";q=10;w=60`: quota and window (seconds) of a policy, draft-ietf-httpapi-ratelimit-headers-11. */
export function policyItem(policy: Pick<RatePolicy, 'name' | 'limit' | 'windowMs'>): string {
  return `"${policy.name}";q=${policy.limit};w=${Math.ceil(policy.windowMs / 1000)}`;
}

/** `"login";r=3;t=42`: what is left of the quota and the seconds until it is restored. */
export function limitItem(name: string, remaining: number, resetS: number): string {
  return `"${name}";r=${Math.max(0, remaining)};t=${Math.max(0, resetS)}`;
}

/**
 * Both fields are Structured Field Lists: a response under two policies (an IP one and the
 * account one) carries one item per policy in the same field line.
 */
export function appendListItem(res: ServerResponse, name: string, item: string): void {
  const previous = res.getHeader(name);
  res.setHeader(name, typeof previous === 'string' && previous.length > 0 ? `${previous}, ${item}` : item);
}
