/**
 * A short, bounded name for a SQL text, the `statement` label of
 * `rampart_db_query_duration_seconds` and the slow-query log line. A query names itself with a
 * leading comment, `/* lots.get *\/ SELECT …` (which pg_stat_activity shows too); otherwise the
 * name is derived from its verb and first table (`select_lots`, `begin`). Texts are constants of
 * the code, so the set is small; past MAX_NAMES distinct names everything else is `other`, so
 * no caller can blow up the label's cardinality.
 */
const MAX_NAMES = 100;
const NAME = /^[a-z0-9_.:-]{1,48}$/;
const LEADING_COMMENT = /^\s*\/\*\s*([^*]*?)\s*\*\//;
const TABLE_AFTER: Record<string, RegExp> = {
  select: /\bfrom\s+([a-z_][a-z0-9_.]*)/i,
  with: /\bfrom\s+([a-z_][a-z0-9_.]*)/i,
  insert: /\binto\s+([a-z_][a-z0-9_.]*)/i,
  update: /^\s*update\s+([a-z_][a-z0-9_.]*)/i,
  delete: /\bfrom\s+([a-z_][a-z0-9_.]*)/i,
};

const cache = new Map<string, string>();
const names = new Set<string>();

export function statementName(text: string): string {
  const known = cache.get(text);
  if (known !== undefined) return known;
  let name = derive(text);
  if (!names.has(name)) {
    if (names.size >= MAX_NAMES) name = 'other';
    else names.add(name);
  }
  // Texts with inlined values would grow this map without bound; only the capped set is kept.
  if (cache.size < 10 * MAX_NAMES) cache.set(text, name);
  return name;
}

/** The name a statement gives itself in its leading comment, if it is a valid one. */
export function declaredName(text: string): string | undefined {
  const comment = LEADING_COMMENT.exec(text)?.[1]?.toLowerCase();
  return comment !== undefined && NAME.test(comment) ? comment : undefined;
}

function derive(text: string): string {
  const comment = declaredName(text);
  if (comment !== undefined) return comment;
  const body = text.replace(LEADING_COMMENT, '').trimStart();
  const verb = /^[a-z]+/i.exec(body)?.[0]?.toLowerCase();
  if (verb === undefined) return 'other';
  const pattern = TABLE_AFTER[verb];
  if (pattern === undefined) return NAME.test(verb) ? verb : 'other';
  const table = pattern.exec(body)?.[1]?.toLowerCase();
  if (table !== undefined) return `${verb}_${table}`.slice(0, 48);
  // SELECT pg_try_advisory_xact_lock(…): the function says what it is.
  const fn = /^select\s+([a-z_][a-z0-9_]*)\s*\(/i.exec(body)?.[1]?.toLowerCase();
  return fn !== undefined ? `${verb}_${fn}`.slice(0, 48) : verb;
}
