/**
 * The one line an operator reads when Rampart could not start: what failed, in words they can
 * act on. Libraries sometimes reject with `undefined`, an empty message or only an errno code;
 * every such case still names something (the error's code, its class, its cause), and never
 * prints a bare "undefined".
 */
export function describeStartupError(error: unknown, depth = 0): string {
  if (error === undefined || error === null) {
    return `no reason given (a dependency failed with ${String(error)}); the log lines above say what was starting`;
  }
  if (typeof error !== 'object') return String(error).trim() || 'no reason given (an empty error); the log lines above say what was starting';
  const { message, code, name, cause, errors } = error as {
    message?: unknown;
    code?: unknown;
    name?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  const text = typeof message === 'string' ? message.trim() : '';
  const codeText = typeof code === 'string' || typeof code === 'number' ? String(code) : '';
  const parts: string[] = [];
  if (text) parts.push(codeText && !text.includes(codeText) ? `${text} (${codeText})` : text);
  else if (codeText) parts.push(codeText);
  // AggregateError (e.g. connecting to every address of a host) carries its reasons inside.
  if (!text && Array.isArray(errors) && errors.length > 0 && depth < 3) {
    parts.push(errors.map((inner) => describeStartupError(inner, depth + 1)).join('; '));
  }
  if (cause !== undefined && depth < 3) {
    const inner = describeStartupError(cause, depth + 1);
    if (!parts.some((part) => part.includes(inner))) parts.push(`caused by: ${inner}`);
  }
  if (parts.length === 0) {
    const kind = typeof name === 'string' && name !== 'Error' ? name : 'an error without a message';
    return `${kind}; the log lines above say what was starting`;
  }
  return parts.join(': ').replace(/\s*\n\s*/g, ' ');
}
