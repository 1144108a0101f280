import { readFileSync } from 'node:fs';

// Read once at start from the package manifest, so /admin and /health name the running build.
function readVersion(): string {
  for (const path of ['../package.json', '../../package.json']) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'rampart' && manifest.version) return manifest.version;
    } catch {
      // try the next location: src/ under tests, dist/src/ when built
    }
  }
  return '0.0.0';
}

export const VERSION = readVersion();
