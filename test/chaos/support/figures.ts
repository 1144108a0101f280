import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';

/**
 * What a fault test measured, in one line: printed, and under `npm run chaos` also recorded
 * (CHAOS_REPORT_DIR/figures.jsonl) so the report carries the figures of tests that do not run
 * through the scenario harness.
 */
export function reportFigures(text: string): void {
  const { currentTestName, testPath } = expect.getState();
  console.info(text);
  const dir = process.env.CHAOS_REPORT_DIR;
  if (!dir) return;
  appendFileSync(join(dir, 'figures.jsonl'), `${JSON.stringify({ file: testPath ?? null, test: currentTestName ?? null, text })}\n`);
}
