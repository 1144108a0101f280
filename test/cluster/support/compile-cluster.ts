import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformFile } from '@swc/core';

/**
 * Compiles src/cluster/*.ts (specs excluded) with @swc/core into a fresh temp dir as plain ESM,
 * so fixtures running in separate Node processes can import the real code. Works because the
 * folder imports only `node:` builtins, its own `.js`-suffixed siblings and a few leaf modules
 * of src/core, which are compiled beside it (same relative layout). Takes ~50 ms.
 */
export const CLUSTER_SRC = fileURLToPath(new URL('../../../src/cluster/', import.meta.url));
const CORE_SRC = fileURLToPath(new URL('../../../src/core/', import.meta.url));
const CORE_IMPORT = /from '\.\.\/core\/([\w.-]+)\.js'/g;

export interface CompiledCluster {
  dir: string;
  cleanup(): Promise<void>;
}

async function compile(source: string, target: string): Promise<string> {
  const output = await transformFile(source, {
    swcrc: false,
    configFile: false,
    sourceMaps: false,
    module: { type: 'es6' },
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
  });
  await writeFile(target, output.code);
  return output.code;
}

export async function compileCluster(): Promise<CompiledCluster> {
  const root = await mkdtemp(join(tmpdir(), 'rampart-cluster-'));
  const dir = join(root, 'cluster');
  await mkdir(join(root, 'core'), { recursive: true });
  await mkdir(dir);
  const files = (await readdir(CLUSTER_SRC)).filter((name) => name.endsWith('.ts') && !name.endsWith('.spec.ts'));
  const outputs = await Promise.all(files.map((name) => compile(join(CLUSTER_SRC, name), join(dir, name.replace(/\.ts$/, '.js')))));
  const coreModules = new Set(outputs.flatMap((code) => [...code.matchAll(CORE_IMPORT)].map((match) => match[1]!)));
  await Promise.all([...coreModules].map((name) => compile(join(CORE_SRC, `${name}.ts`), join(root, 'core', `${name}.js`))));
  await writeFile(join(root, 'package.json'), '{ "type": "module" }\n');
  return { dir, cleanup: () => rm(root, { recursive: true, force: true }) };
}
