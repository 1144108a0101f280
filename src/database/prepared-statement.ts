import { declaredName } from './statement-name.js';

/**
 * Statements PostgreSQL parses and plans once per connection instead of on every call. For the
 * lot detail (three tables, two `json_agg` subqueries) parse and plan cost PostgreSQL more than
 * running it, on the cores the app shares; see test/load/README.md. The request pool sends a
 * registered text as a named statement (its leading-comment name, also its `statement` metric
 * label and its name in `pg_prepared_statements`) unless DB_PREPARED_STATEMENTS is off.
 *
 * Only for statements whose best plan does not depend on the parameters (a lookup by key):
 * after five executions PostgreSQL may keep a generic plan for a prepared statement, and an
 * optional-filter query (`$2::text IS NULL OR status = $2`) would then be held to one plan for
 * every combination of filters.
 */
const names = new Map<string, string>();
const texts = new Map<string, string>();

/** Registers `text` (a constant of the code) as a prepared statement and returns it unchanged. */
export function prepared(text: string): string {
  const name = declaredName(text);
  if (name === undefined) throw new Error(`a prepared statement needs a leading /* name */ comment: ${text.slice(0, 60)}`);
  const existing = texts.get(name);
  // pg refuses one name for two texts on a connection; failing at load time names the culprit.
  if (existing !== undefined && existing !== text) throw new Error(`two statements are prepared as ${name}`);
  texts.set(name, text);
  names.set(text, name);
  return text;
}

/** The statement name to send `text` under, or undefined for an unnamed (parse-every-time) one. */
export function preparedName(text: string): string | undefined {
  return names.get(text);
}
