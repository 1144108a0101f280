export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Methods that change state: they carry the CSRF token (CONTRACT.md, "Sessions, auth and CSRF"). */
export function isUnsafeMethod(method: HttpMethod): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH' || method === 'DELETE';
}

/**
 * Whether sending the request twice has the effect of sending it once, which is what makes
 * a retry safe after an ambiguous failure. POST and PATCH qualify only when the caller
 * names the operation with an `Idempotency-Key` the server can deduplicate on.
 */
export function isIdempotent(method: HttpMethod, headers: Headers): boolean {
  switch (method) {
    case 'GET':
    case 'HEAD':
    case 'PUT':
    case 'DELETE':
      return true;
    case 'POST':
    case 'PATCH':
      return headers.has('Idempotency-Key');
  }
}

/**
 * "Full jitter" (AWS architecture blog, "Exponential Backoff and Jitter"): a uniform draw in
 * [0, min(cap, base * 2^n)) spreads clients out far better than a fixed or half-jittered delay.
 * `retry` is 0 for the first retry.
 */
export function fullJitterDelay(retry: number, baseMs: number, capMs: number, random: () => number): number {
  return Math.floor(random() * backoffCeiling(retry, baseMs, capMs));
}

export function backoffCeiling(retry: number, baseMs: number, capMs: number): number {
  return Math.min(capMs, baseMs * 2 ** retry);
}

/** `Retry-After` as delta-seconds or an HTTP date (RFC 9110 §10.2.3), in ms from `nowMs`; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // Date.parse is lenient ("-5" is the year -5); an HTTP date always names its month.
  if (!/[a-z]/i.test(trimmed)) return null;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}
