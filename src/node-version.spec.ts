import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MIN_NODE, nodeAtLeast } from './node-version.js';

describe('node version guard', () => {
  it('matches the lower bound of package.json engines', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };
    const lower = /^>=\s*(\d+(?:\.\d+){0,2})/.exec(manifest.engines.node)?.[1];
    expect(lower).toBeDefined();
    const parts = lower!.split('.');
    while (parts.length < 3) parts.push('0');
    expect(MIN_NODE).toBe(parts.join('.'));
  });

  it('compares numerically, not as strings', () => {
    expect(nodeAtLeast('24.21.0', '24.0.0')).toBe(true);
    expect(nodeAtLeast('24.0.0', '24.0.0')).toBe(true);
    expect(nodeAtLeast('100.0.0', '24.0.0')).toBe(true);
    expect(nodeAtLeast('20.20.2', '24.0.0')).toBe(false);
    expect(nodeAtLeast('3.0.0', '24.0.0')).toBe(false);
    expect(nodeAtLeast('23.99.99', '24.0.0')).toBe(false);
  });
});
