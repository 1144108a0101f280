import { fileURLToPath } from 'node:url';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// SWC rather than esbuild: Nest's DI needs emitDecoratorMetadata, which esbuild does not emit.
const plugins = [swc.vite({ module: { type: 'es6' } })];
const alias = {
  '@rampart/api-client': fileURLToPath(new URL('./libs/api-client/src/index.ts', import.meta.url)),
};

export default defineConfig({
  plugins,
  resolve: { alias },
  test: {
    // Integration and e2e files each start servers and own databases; two cores cannot
    // run many of them at once without turning timing assertions into noise.
    fileParallelism: true,
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.spec.ts', 'libs/**/*.spec.ts'],
          testTimeout: 10_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/load/**'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
