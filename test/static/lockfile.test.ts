import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

interface LockEntry {
  version?: string;
  optionalDependencies?: Record<string, string>;
}

const lock = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package-lock.json'), 'utf8')) as {
  packages: Record<string, LockEntry>;
};

/**
 * `npm ci` refuses a lock that lacks an entry for any optional dependency of a locked package.
 * The registry reachable here does not serve some platform builds (e.g. @swc/core for darwin
 * and win32), and an `npm install` silently drops their entries: CI then fails before a test
 * runs. The dropped entries are kept by hand, with os/cpu so other platforms skip them.
 */
describe('package-lock.json', () => {
  it('has an entry for every optional dependency `npm ci` will look for', () => {
    const problems: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      for (const dep of Object.keys(entry.optionalDependencies ?? {})) {
        const nested = `${path}/node_modules/${dep}`;
        const found = lock.packages[nested] ?? lock.packages[`node_modules/${dep}`];
        if (!found) problems.push(`${dep} (optional dependency of ${path || 'the root'}) has no lock entry`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('records no download addresses', () => {
    expect(readFileSync(join(import.meta.dirname, '..', '..', 'package-lock.json'), 'utf8')).not.toMatch(/"resolved"\s*:/);
  });
});
