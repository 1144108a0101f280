import { createHash } from 'node:crypto';

/** CONTRACT.md's key format; anything else is 400 VALIDATION_FAILED. */
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * JSON with object keys sorted at every depth, so `{"a":1,"b":2}` and `{"b":2,"a":1}` are the
 * same request: clients re-serialise bodies on retry and key order is not meaning.
 */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export interface FingerprintInput {
  method: string;
  /** The route template (`/api/lots/:id/notes`), so the same key on another route never matches. */
  route: string;
  params: Record<string, string | string[]>;
  body: unknown;
}

/** What "the same request" means for a repeated key: method, route, path parameters and body. */
export function requestFingerprint(input: FingerprintInput): string {
  return createHash('sha256')
    .update(`${input.method.toUpperCase()} ${input.route}\n${canonicalJson(input.params)}\n${canonicalJson(input.body)}`)
    .digest('base64url');
}
