// Reads and parses the deployment files for the static checks. The only module here that touches
// the file system; everything it returns is plain data that checks.ts inspects.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parseDocument } from 'yaml';

import { APP_METRICS, KNOWN_ENV_VARS, deriveProbeRoutes, parseDockerfile, type Doc, type Dockerfile, type K8sBundle, type ProbeRoutes } from './checks.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** CONTRACT.md lives in shared/ beside the repository (CI clones it there too). */
export const CONTRACT_PATH = join(ROOT, '..', 'shared', 'spec', 'CONTRACT.md');

export const read = (rel: string): string => readFileSync(join(ROOT, rel), 'utf8');

/** Parses one YAML document; throws on syntax errors so a broken file fails loudly. */
export function yamlDoc(text: string, name: string): Doc {
  const doc = parseDocument(text, { merge: true, prettyErrors: true });
  if (doc.errors.length > 0) throw new Error(`${name}: ${doc.errors.map((e) => e.message).join('; ')}`);
  return doc.toJS({ maxAliasCount: -1 });
}

/** Parses every document of a multi-document YAML file (empty documents skipped). */
export function yamlDocs(text: string, name: string): Doc[] {
  const docs = parseAllDocuments(text, { prettyErrors: true });
  if (!Array.isArray(docs)) throw new Error(`${name}: not YAML`);
  const out: Doc[] = [];
  for (const d of docs) {
    if (d.errors.length > 0) throw new Error(`${name}: ${d.errors.map((e) => e.message).join('; ')}`);
    const js: Doc = d.toJS();
    if (js !== null && js !== undefined) out.push(js);
  }
  return out;
}

export const readYaml = (rel: string): Doc => yamlDoc(read(rel), rel);
export const readJson = (rel: string): Doc => JSON.parse(read(rel));

export function walk(dir: string, accept: (path: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...walk(full, accept));
    else if (accept(full)) out.push(full);
  }
  return out.sort();
}

export function loadDockerfile(): Dockerfile {
  return parseDockerfile(read('Dockerfile'));
}

export function loadK8s(dir = 'deploy/k8s'): K8sBundle & { byFile: Map<string, Doc[]> } {
  const abs = join(ROOT, dir);
  const files = readdirSync(abs).filter((f) => /\.ya?ml$/.test(f)).sort();
  const byFile = new Map<string, Doc[]>();
  for (const f of files) byFile.set(f, yamlDocs(readFileSync(join(abs, f), 'utf8'), `${dir}/${f}`));
  const kustomization = byFile.get('kustomization.yaml')?.[0] ?? byFile.get('kustomization.yml')?.[0];
  const resources: string[] = Array.isArray(kustomization?.resources) ? kustomization.resources.map(String) : [];
  const objects = resources.flatMap((r) => byFile.get(r) ?? []);
  return { kustomization, objects, files, byFile };
}

/** Controller sources under src/ (none yet is fine: the contract alone then defines the routes). */
export function controllerSources(): { path: string; source: string }[] {
  return walk(join(ROOT, 'src'), (p) => p.endsWith('.controller.ts')).map((p) => ({ path: relative(ROOT, p), source: readFileSync(p, 'utf8') }));
}

export function loadContract(): string | null {
  return existsSync(CONTRACT_PATH) ? readFileSync(CONTRACT_PATH, 'utf8') : null;
}

export function loadProbeRoutes(): ProbeRoutes {
  return deriveProbeRoutes(loadContract(), controllerSources().map((c) => c.source));
}

/** App metrics plus prom-client's default metric names, read from the installed prom-client. */
export function knownMetrics(): Set<string> {
  const names = new Set(APP_METRICS);
  // Every metric the source declares (`name: 'rampart_…'`), so a new one needs no list edit here.
  for (const f of walk(join(ROOT, 'src'), (p) => p.endsWith('.ts') && !p.endsWith('.spec.ts'))) {
    for (const m of readFileSync(f, 'utf8').matchAll(/\bname: '((?:rampart|http)_[a-z0-9_]+)'/g)) {
      names.add(m[1]);
      // Histograms and summaries are scraped under these suffixes.
      for (const suffix of ['_bucket', '_count', '_sum']) names.add(`${m[1]}${suffix}`);
    }
  }
  const dir = join(ROOT, 'node_modules', 'prom-client', 'lib', 'metrics');
  for (const f of walk(dir, (p) => p.endsWith('.js'))) {
    for (const m of readFileSync(f, 'utf8').matchAll(/'((?:process|nodejs)_[a-z0-9_]+)'/g)) names.add(m[1]);
  }
  return names;
}

/** Variable names listed in .env.example (KEY= or # KEY= lines), or null when it does not exist yet. */
export function envExampleNames(): Set<string> | null {
  const p = join(ROOT, '.env.example');
  if (!existsSync(p)) return null;
  const names = new Set<string>();
  for (const line of readFileSync(p, 'utf8').split('\n')) {
    const m = /^\s*(?:#\s*)?(?:export\s+)?([A-Z][A-Z0-9_]*)\s*=/.exec(line);
    if (m) names.add(m[1]);
  }
  return names;
}

/**
 * Variables the app reads: the documented list plus every key of the Joi schema in
 * src/config/schema.ts (when it exists), so a variable the app adds later is not reported as a typo.
 */
export function knownEnvVars(): Set<string> {
  const names = new Set(KNOWN_ENV_VARS);
  const p = join(ROOT, 'src', 'config', 'schema.ts');
  if (existsSync(p)) {
    for (const m of readFileSync(p, 'utf8').matchAll(/^\s*([A-Z][A-Z0-9_]*)\s*:/gm)) names.add(m[1]);
  }
  return names;
}
