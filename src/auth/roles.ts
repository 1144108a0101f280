import type { Role } from '../database/entities/index.js';

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Roles are ordered viewer < operator < admin; each includes what the lower ones may do. */
export function roleAllows(actual: Role, required: Role): boolean {
  return RANK[actual] >= RANK[required];
}
