import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { batchedDestination, isoTime } from './logger.js';

const line = (i: number) => `{"level":"info","n":${i},"msg":"${'x'.repeat(200)}"}\n`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('batchedDestination', () => {
  const dirs: string[] = [];
  const file = () => {
    const dir = mkdtempSync(join(tmpdir(), 'rampart-log-'));
    dirs.push(dir);
    return join(dir, 'out.log');
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('writes every line once and in order: a full batch at once, the rest on flush', async () => {
    const path = file();
    const fd = openSync(path, 'w');
    const out = batchedDestination(fd);
    for (let i = 0; i < 10; i += 1) out.write(line(i));
    await sleep(20);
    // Ten lines are far from a batch: nothing written yet.
    expect(readFileSync(path, 'utf8')).toBe('');
    for (let i = 10; i < 400; i += 1) out.write(line(i));
    await sleep(50);
    expect(readFileSync(path, 'utf8').length).toBeGreaterThan(65_000);
    await new Promise<void>((resolve, reject) => out.flush((error) => (error ? reject(error) : resolve())));
    const expected = Array.from({ length: 400 }, (_, i) => line(i)).join('');
    expect(readFileSync(path, 'utf8')).toBe(expected);
    closeSync(fd);
  });

  it("writes a quiet process's lines within a few hundred milliseconds, and everything on flushSync", async () => {
    const path = file();
    const fd = openSync(path, 'w');
    const out = batchedDestination(fd);
    out.write(line(1));
    await sleep(600);
    expect(readFileSync(path, 'utf8')).toBe(line(1));
    out.write(line(2));
    out.flushSync();
    expect(readFileSync(path, 'utf8')).toBe(line(1) + line(2));
    closeSync(fd);
  });
});

describe('isoTime', () => {
  it("is pino's isoTime", () => {
    const before = Date.now();
    const text = isoTime();
    const at = Date.parse(/^,"time":"(.+)"$/.exec(text)![1]!);
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Date.now());
  });
});
