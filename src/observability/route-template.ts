import type { Request } from 'express';

// Nest answers unmatched paths from a catch-all route of its own; that is no route of ours.
const CATCH_ALL = new Set(['{/*splat}', '*', '/*', '(.*)']);

/**
 * The matched route template (`/api/lots/:id`), never the raw path: metrics get one series
 * per route instead of one per lot id, logs group by route. Null when nothing matched.
 */
export function routeTemplateOf(req: Request): string | null {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' && !CATCH_ALL.has(path) ? path : null;
}
