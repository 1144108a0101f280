import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { envSchema } from './schema.js';

const read = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8');
const variables = Object.keys((envSchema.describe() as { keys: Record<string, unknown> }).keys);

describe('configuration documentation', () => {
  it('knows the variables from the schema itself', () => {
    expect(variables.length).toBeGreaterThan(40);
    expect(variables).toContain('DATABASE_URL');
  });

  it('lists every variable in .env.example, each with a comment above it', () => {
    const lines = read('../../.env.example').split('\n');
    const missing: string[] = [];
    const uncommented: string[] = [];
    for (const name of variables) {
      const index = lines.findIndex((line) => line.startsWith(`${name}=`));
      if (index === -1) missing.push(name);
      else {
        // The variable's comment may sit above a group of related variables.
        let above = index - 1;
        while (above >= 0 && /^[A-Z_]+=/.test(lines[above]!)) above -= 1;
        if (above < 0 || !lines[above]!.startsWith('#')) uncommented.push(name);
      }
    }
    expect(missing).toEqual([]);
    expect(uncommented).toEqual([]);
  });

  it('describes every variable in RUNBOOK.md', () => {
    const runbook = read('../../RUNBOOK.md');
    expect(variables.filter((name) => !runbook.includes(`\`${name}\``))).toEqual([]);
  });
});
