// Static checks of the deployment files as committed: every check must report no problem.
// (mutations.test.ts runs the same checks on broken copies to prove they can fail.)
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

import * as C from './checks.js';
import * as L from './load.js';

const routes = L.loadProbeRoutes();
const livenessPaths = routes.liveness;
const knownEnv = L.knownEnvVars();
const metrics = L.knownMetrics();
const compose = L.readYaml('docker-compose.yml');
const prom = L.readYaml('deploy/prometheus/prometheus.yml');
const k8s = L.loadK8s();
const datasources = L.readYaml('deploy/grafana/provisioning/datasources/datasources.yaml');
const providers = L.readYaml('deploy/grafana/provisioning/dashboards/rampart.yaml');
const dsUids = new Set<string>((datasources.datasources as C.Doc[]).map((d) => String(d.uid)));

describe('probe routes', () => {
  it('come from CONTRACT.md (and the health controller once it exists)', () => {
    if (L.loadContract() !== null) expect(routes.sources).toContain('CONTRACT.md health table');
    expect([...routes.liveness]).toEqual(['/health/live']);
    expect([...routes.readiness]).toEqual(['/health/ready']);
  });

  it('the contract lists /metrics and every health path as GET routes', () => {
    const md = L.loadContract();
    if (md === null) return;
    const all = C.parseContractGetRoutes(md);
    for (const p of ['/health/live', '/health/ready', '/health', '/health/deep', '/metrics']) expect(all.has(p), p).toBe(true);
  });

  it('reads controller decorators, including non-literal ones it cannot resolve', () => {
    const src = `
      @Controller('health')
      export class HealthController {
        @Get('live') live() {}
        @Get('/ready/') ready() {}
        @Get() summary() {}
        @Get(DEEP) deep() {}
      }
      @Controller({ path: 'metrics' })
      export class MetricsController { @Get() metrics() {} }`;
    const parsed = C.parseNestGetRoutes(src);
    expect(parsed.routes).toEqual(['/health/live', '/health/ready', '/health', '/metrics']);
    expect(parsed.unparseable).toEqual(['@Get(DEEP)']);
  });
});

describe('Dockerfile', () => {
  it('parses stages, continuations and comments inside continuations', () => {
    const df = C.parseDockerfile('# c\nFROM a:1 AS one\nENV A=1 \\\n  # inside\n\n  B="two words"\nFROM one\nRUN x \\\n y\n');
    expect(df.stages.map((s) => [s.image, s.name])).toEqual([['a:1', 'one'], ['one', undefined]]);
    expect(C.parseAssignments(df.stages[0].instructions[0].args)).toEqual({ A: '1', B: 'two words' });
    expect(df.stages[1].instructions[0]).toMatchObject({ keyword: 'RUN', args: 'x y', line: 8 });
  });

  it('final image: pinned Node 24, non-root, production deps only, liveness healthcheck, tini', () => {
    expect(C.checkDockerfile(L.loadDockerfile(), { livenessPaths })).toEqual([]);
  });

  it('.dockerignore keeps dependencies, build output, data, VCS and secrets out', () => {
    expect(C.checkDockerignore(L.read('.dockerignore'))).toEqual([]);
  });
});

describe('docker-compose.yml', () => {
  it('app is hardened, healthy-gated, configured without literal secrets; images pinned', () => {
    expect(C.checkCompose(compose, { livenessPaths, knownEnv })).toEqual([]);
  });

  it('Prometheus can read /metrics under the access rule (bearer token from a compose secret)', () => {
    expect(C.checkMetricsAccess(compose, prom)).toEqual([]);
  });

  it('every file compose mounts from the repository exists', () => {
    const missing: string[] = [];
    for (const [name, svc] of Object.entries<C.Doc>(compose.services)) {
      for (const v of (svc.volumes ?? []) as unknown[]) {
        const src = String(v).split(':')[0];
        if (src.startsWith('./') && !existsSync(join(L.ROOT, src))) missing.push(`${name}: ${src}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('Kubernetes (deploy/k8s)', () => {
  it('every manifest parses and has apiVersion/kind/metadata.name', () => {
    const bad: string[] = [];
    for (const [file, docs] of k8s.byFile) {
      if (file.startsWith('kustomization')) continue;
      for (const d of docs) if (!d.apiVersion || !d.kind || !d.metadata?.name) bad.push(file);
    }
    expect(bad).toEqual([]);
    expect(k8s.objects.map((o) => o.kind).sort()).toEqual(
      ['Deployment', 'HorizontalPodAutoscaler', 'Namespace', 'NetworkPolicy', 'PodDisruptionBudget', 'Service', 'ServiceAccount'].sort(),
    );
  });

  it('restricted security, real probe routes, drain budget, secrets by secretKeyRef', () => {
    expect(C.checkKubernetes(k8s, { routes, knownEnv })).toEqual([]);
  });

  it('writes the terminationGracePeriodSeconds relation down next to the value', () => {
    const text = L.read('deploy/k8s/deployment.yaml');
    expect(text).toMatch(/terminationGracePeriodSeconds >= preStop \+ SHUTDOWN_DRAIN_DELAY_MS\/1000/);
    expect(text).toMatch(/shared Redis/);
  });

  it('the example Secret stays out of the kustomization and would be refused by the app', () => {
    const ex = k8s.byFile.get('secret.example.yaml')?.[0];
    expect(ex?.kind).toBe('Secret');
    expect(k8s.kustomization.resources).not.toContain('secret.example.yaml');
    expect(String(ex.stringData['session-secret']).length).toBeLessThan(32);
    const keys = k8s.objects
      .filter((o) => o.kind === 'Deployment')
      .flatMap((d) => d.spec.template.spec.containers[0].env)
      .filter((e: C.Doc) => e.valueFrom?.secretKeyRef)
      .map((e: C.Doc) => e.valueFrom.secretKeyRef.key)
      .sort();
    expect(Object.keys(ex.stringData).sort()).toEqual(keys);
  });
});

describe('observability', () => {
  it('alert rules: all six alerts, severity labels, known metrics', () => {
    expect(C.checkAlerts(L.readYaml('deploy/prometheus/alerts.yml'), metrics)).toEqual([]);
  });

  it('prometheus.yml loads the alert rules it is given', () => {
    // Relative rule files resolve against the config file's folder, as Prometheus does.
    const rules = (prom.rule_files as string[]).map((f) => (f.startsWith('/etc/prometheus/') ? f.replace('/etc/prometheus/', 'deploy/prometheus/') : join('deploy/prometheus', f)));
    expect(rules.every((f) => existsSync(join(L.ROOT, f)))).toBe(true);
  });

  it('dashboard: RED panels, pool, breaker, workers, logs by correlationId', () => {
    expect(C.checkDashboard(L.readJson('deploy/grafana/dashboards/rampart.json'), dsUids, metrics)).toEqual([]);
  });

  it('Alloy ships app stdout to Loki with correlationId as structured metadata', () => {
    expect(C.checkAlloy(L.read('deploy/alloy/config.alloy'))).toEqual([]);
  });

  it('Loki: single binary, filesystem, structured metadata enabled', () => {
    expect(C.checkLoki(L.readYaml('deploy/loki/config.yaml'))).toEqual([]);
  });

  it('Grafana provisioning points at the compose services and mounted dashboards', () => {
    expect(C.checkGrafana({ datasources, providers }, compose)).toEqual([]);
  });
});

describe('configuration the deployments hand to the app', () => {
  // Values a secret manager would supply; strong enough for the app's own checks.
  const secrets: Record<string, string> = {
    DATABASE_URL: 'postgres://rampart:Xq7pL2vN9wR4tY8z@db:5432/rampart',
    REDIS_URL: 'redis://:Xq7pL2vN9wR4tY8z@redis:6379/0',
    SESSION_SECRET: 'k3J9vQ2xR7mT5wZ8pL4nB6cF1hD0sG-aE_yU',
    ADMIN_BOOTSTRAP_PASSWORD: 'Adm1n-B00tstrap-Pw',
    METRICS_TOKEN: 'metrics-token-0123456789abcdef',
  };
  const composeEnv = (): Record<string, string> => {
    const env: Record<string, string> = {};
    for (const [k, v] of C.composeEnv(compose.services.app)) {
      env[k] = (v ?? '').replace(/\$\{([A-Z_][A-Z0-9_]*)[^}]*\}/g, 'Xq7pL2vN9wR4tY8z');
    }
    return { ...env, SESSION_SECRET: secrets.SESSION_SECRET, ADMIN_BOOTSTRAP_PASSWORD: secrets.ADMIN_BOOTSTRAP_PASSWORD, METRICS_TOKEN: secrets.METRICS_TOKEN };
  };
  const k8sEnv = (): Record<string, string> => {
    const literals = (k8s.kustomization.configMapGenerator[0].literals as string[]).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]);
    return { ...Object.fromEntries(literals), ...secrets };
  };
  const envModule = join(L.ROOT, 'src', 'config', 'env.ts');

  it.skipIf(!existsSync(envModule))('both pass the app\'s own configuration validation (src/config/env.ts)', async () => {
    const mod = (await import(pathToFileURL(envModule).href)) as { loadConfig?: (env: Record<string, string>) => C.Doc };
    if (typeof mod.loadConfig !== 'function') return;
    for (const [name, env] of [['compose', composeEnv()], ['k8s', k8sEnv()]] as const) {
      let problems: string[] = [];
      try {
        const { config } = mod.loadConfig(env);
        // The drain budget the grace-period relation assumes is what the app really uses.
        const shutdown = config?.resilience?.shutdown;
        if (shutdown) expect(shutdown, name).toMatchObject({ drainDelayMs: 5000, timeoutMs: 10000 });
      } catch (error) {
        problems = (error as { problems?: string[] }).problems ?? [String(error)];
      }
      expect(problems, name).toEqual([]);
    }
  });

  const hostsModule = join(L.ROOT, 'src', 'security', 'hosts', 'allowed-hosts.ts');
  it.skipIf(!existsSync(envModule) || !existsSync(hostsModule))('every Host name callers use is served (ALLOWED_HOSTS refuses the rest before routing)', async () => {
    const { loadConfig } = (await import(pathToFileURL(envModule).href)) as { loadConfig: (env: Record<string, string>) => C.Doc };
    const { hostServed } = (await import(pathToFileURL(hostsModule).href)) as { hostServed: (host: string, allowed: ReadonlySet<string>) => boolean };
    const served = (env: Record<string, string>) => new Set<string>(loadConfig(env).config.security.allowedHosts as string[]);
    // compose: what Prometheus scrapes (app:3000) and the container healthcheck's URL.
    const composeHosts = new Set(served(composeEnv()));
    const scraped = (prom.scrape_configs as C.Doc[]).filter((j) => j.job_name === 'rampart').flatMap((j) => (j.static_configs as C.Doc[]).flatMap((c) => c.targets as string[]));
    expect(scraped.length).toBeGreaterThan(0);
    const healthcheck = JSON.stringify(compose.services.app.healthcheck?.test ?? []);
    const checked = [...healthcheck.matchAll(/https?:\/\/([^/'"]+)/g)].map((m) => m[1]!);
    for (const host of [...scraped, ...checked, 'localhost:3000']) expect(hostServed(host, composeHosts), `compose Host ${host}`).toBe(true);
    // k8s: the Service's names for in-cluster callers; probes go to the pod IP (no httpGet.host).
    const k8sHosts = served(k8sEnv());
    const namespace = String(k8s.kustomization.namespace);
    for (const service of k8s.objects.filter((o) => o.kind === 'Service')) {
      const name = String(service.metadata.name);
      for (const host of [name, `${name}.${namespace}.svc`, `${name}.${namespace}.svc.cluster.local:3000`]) {
        expect(hostServed(host, k8sHosts), `k8s Host ${host}`).toBe(true);
      }
    }
    const container = k8s.objects.find((o) => o.kind === 'Deployment').spec.template.spec.containers[0];
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      const get = container[probe]?.httpGet as C.Doc | undefined;
      const host = get?.host ?? (get?.httpHeaders as C.Doc[] | undefined)?.find((h) => String(h.name).toLowerCase() === 'host')?.value;
      if (host !== undefined) expect(hostServed(String(host), k8sHosts), `${probe} Host ${host}`).toBe(true);
    }
  });

  it.skipIf(L.envExampleNames() === null)('compose takes the app tuning from .env, and .env.example lists every variable compose requires', () => {
    expect(compose.services.app.env_file).toEqual(['.env']);
    const documented = L.envExampleNames() ?? new Set<string>();
    const required = [...L.read('docker-compose.yml').matchAll(/\$\{([A-Z][A-Z0-9_]*):\?/g)].map((m) => m[1]!);
    expect(required.length).toBeGreaterThan(3);
    expect([...new Set(required)].filter((k) => !documented.has(k))).toEqual([]);
  });

  it.skipIf(L.envExampleNames() === null)('every variable the deployments set is documented in .env.example', () => {
    const documented = L.envExampleNames() ?? new Set<string>();
    const used = new Set([...Object.keys(composeEnv()), ...Object.keys(k8sEnv())]);
    expect([...used].filter((k) => !documented.has(k))).toEqual([]);
  });
});
