/**
 * Imported first by main.ts, before anything loads a native module: on an older Node an
 * addon built for Node 24 (argon2, the embedded PostgreSQL's helpers) can crash the process
 * with a segfault and no word of why. One line and EX_CONFIG (78) instead: a supervisor must
 * not restart-loop on it. Builtins only, no imports at all, so nothing here can fail first.
 */

/** The oldest Node this build supports; node-version.spec.ts keeps it equal to package.json engines. */
export const MIN_NODE = '24.0.0';

/** True when `actual` (e.g. process.versions.node) is at least `minimum`, comparing x.y.z numerically. */
export function nodeAtLeast(actual: string, minimum: string): boolean {
  const a = actual.split('.').map((part) => Number.parseInt(part, 10) || 0);
  const m = minimum.split('.').map((part) => Number.parseInt(part, 10) || 0);
  for (let i = 0; i < 3; i += 1) {
    const x = a[i] ?? 0;
    const y = m[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

if (!nodeAtLeast(process.versions.node, MIN_NODE)) {
  process.stderr.write(
    `rampart: Node ${process.versions.node} is too old: Rampart needs Node ${MIN_NODE} or newer (package.json engines); run it with the project's own node (node_modules/.bin/node, used by npm start) or install Node 24\n`,
  );
  process.exit(78);
}
