import type { DirectoryRole, RoleRule } from '../../config/directory-config.js';

/**
 * The role of the first rule whose group is among `groups` (normalised DNs), `*` matching
 * anyone; null when no rule matches, and the user may not sign in.
 */
export function roleFor(groups: readonly string[], rules: readonly RoleRule[]): DirectoryRole | null {
  const memberOf = new Set(groups);
  for (const rule of rules) {
    if (rule.group === '*' || memberOf.has(rule.group)) return rule.role;
  }
  return null;
}
