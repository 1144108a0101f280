/**
 * Credentials inside free text. pino's `redact` only masks whole fields by path, but a
 * connection URL with a password turns up inside messages and stack traces (a driver's
 * "connect ECONNREFUSED" rarely, an operator's misconfigured URL often), so strings are
 * scrubbed as well.
 */
const URL_CREDENTIALS = /\b((?:postgres(?:ql)?|redis|rediss|amqp|mysql|mongodb(?:\+srv)?):\/\/)([^\s:@/]*):([^\s@/]*)@/gi;
const KEYWORD_CREDENTIALS = /\b(password|passwd|pwd)=([^\s&;]+)/gi;

export const REDACTED = '[REDACTED]';

export function redactString(text: string): string {
  // A fast pre-check keeps the common case (no "://" and no "=") allocation-free.
  if (!text.includes('://') && !text.includes('=')) return text;
  return text.replace(URL_CREDENTIALS, `$1$2:${REDACTED}@`).replace(KEYWORD_CREDENTIALS, `$1=${REDACTED}`);
}

const SECRET_KEYS = /^(password|passwordHash|password_hash|newPassword|currentPassword|secret|token|csrfToken|_csrf|authorization|cookie|set-cookie|x-csrf-token|sessionSecret)$/i;

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Secret-named fields masked and credentials removed from every string, walking plain data
 * only: class instances (a request, a response, a socket) are left to their serializers, and
 * walking them would cost more than the rest of the request. Returns the value itself when
 * nothing needed changing, so the common log line allocates nothing here.
 */
export function redactDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object' || depth > 8) return value;
  if (value instanceof Error) return redactError(value, depth);
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < value.length; i += 1) {
      const item: unknown = value[i];
      const cleaned = redactDeep(item, depth + 1);
      if (cleaned !== item) {
        out ??= value.slice();
        out[i] = cleaned;
      }
    }
    return out ?? value;
  }
  if (!isPlainObject(value)) return value;
  let out: Record<string, unknown> | null = null;
  for (const key in value) {
    const item = value[key];
    const cleaned = SECRET_KEYS.test(key) && item != null ? REDACTED : redactDeep(item, depth + 1);
    if (cleaned !== item) {
      out ??= { ...value };
      out[key] = cleaned;
    }
  }
  return out ?? value;
}

export interface SerializedError {
  type: string;
  message: string;
  stack?: string;
  code?: unknown;
  cause?: unknown;
  [key: string]: unknown;
}

export function redactError(error: Error, depth = 0): SerializedError {
  const out: SerializedError = {
    type: error.name,
    message: redactString(error.message),
    stack: error.stack === undefined ? undefined : redactString(error.stack),
  };
  for (const [key, item] of Object.entries(error)) {
    if (key === 'message' || key === 'stack') continue;
    out[key] = SECRET_KEYS.test(key) && item != null ? REDACTED : redactDeep(item, depth + 1);
  }
  if (error.cause !== undefined && depth < 4) out.cause = redactDeep(error.cause, depth + 1);
  return out;
}
