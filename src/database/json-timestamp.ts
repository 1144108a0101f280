/** What PostgreSQL writes for a timestamptz inside JSON when the session's time zone is UTC. */
const UTC_JSON_TIMESTAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\+00:00$/;

/**
 * A timestamptz from a `json_agg` row (`2026-01-01T10:00:00.123456+00:00`) as the API writes
 * every timestamp: milliseconds, UTC, `Z`; exactly what `new Date(text).toISOString()` gives.
 * UTC text (the usual server time zone) is rewritten as text: the lot detail has up to 70 of
 * them, and parsing each into a Date cost about a microsecond apiece. Any other offset takes
 * the Date path.
 */
export function isoFromJsonTimestamp(text: string): string {
  const utc = UTC_JSON_TIMESTAMP.exec(text);
  if (utc === null) return new Date(text).toISOString();
  // Date truncates sub-millisecond digits rather than rounding; so does this.
  const fraction = utc[2] ?? '';
  return `${utc[1]}.${fraction.length >= 3 ? fraction.slice(0, 3) : fraction.padEnd(3, '0')}Z`;
}
