// Proof that the static checks guard something: each test breaks one thing in a copy of the real,
// parsed files and expects the same check function that passes on the originals to name it.
import { describe, expect, it } from 'vitest';

import * as C from './checks.js';
import * as L from './load.js';

const routes = L.loadProbeRoutes();
const livenessPaths = routes.liveness;
const knownEnv = L.knownEnvVars();
const metrics = L.knownMetrics();

/** Asserts a problem list is non-empty and one entry matches `pattern` (the right check fired). */
function expectProblem(problems: string[], pattern: RegExp): void {
  expect(problems.length, 'the mutation went unnoticed').toBeGreaterThan(0);
  expect(problems.some((p) => pattern.test(p)), `no problem matches ${pattern}:\n${problems.join('\n')}`).toBe(true);
}

/** Replaces text that must be present (a mutation that changes nothing would prove nothing). */
function mutate(text: string, from: string | RegExp, to: string): string {
  const out = text.replace(from, to);
  expect(out, `mutation ${String(from)} did not apply`).not.toBe(text);
  return out;
}

describe('Dockerfile checks fail on a broken Dockerfile', () => {
  const text = L.read('Dockerfile');
  const check = (t: string) => C.checkDockerfile(C.parseDockerfile(t), { livenessPaths });

  it('original passes (baseline for the mutations below)', () => expect(check(text)).toEqual([]));
  it('USER removed', () => expectProblem(check(mutate(text, /^USER .*$/m, '')), /no USER/));
  it('USER root', () => expectProblem(check(mutate(text, /^USER .*$/m, 'USER root')), /is root/));
  it('USER 0:0', () => expectProblem(check(mutate(text, /^USER .*$/m, 'USER 0:0')), /is root/));
  it('final stage on Node 22', () => expectProblem(check(mutate(text, /FROM node:24\.21\.0-bookworm-slim AS runtime/, 'FROM node:22.12.0-bookworm-slim AS runtime')), /node:24/));
  it('unpinned base image', () => expectProblem(check(mutate(text, /FROM node:24\.21\.0-bookworm-slim AS npm-base/, 'FROM node:latest AS npm-base')), /latest/));
  it('moving major tag', () => expectProblem(check(mutate(text, /FROM node:24\.21\.0-bookworm-slim AS runtime/, 'FROM node:24 AS runtime')), /moving/));
  it('npm ci with dev deps in the final stage', () =>
    expectProblem(check(mutate(text, /^USER /m, 'RUN npm ci --no-audit\nUSER ')), /installs dev dependencies/));
  it('node_modules copied from the build stage (which has dev deps)', () =>
    expectProblem(check(mutate(text, 'COPY --from=deps /app/node_modules', 'COPY --from=build /app/node_modules')), /copies node_modules from stage "build"/));
  it('whole build workdir copied', () =>
    expectProblem(check(mutate(text, 'COPY --from=build /app/dist ./dist', 'COPY --from=build /app ./')), /copies node_modules/));
  it('deps stage stops omitting dev deps', () =>
    expectProblem(check(mutate(text, 'npm ci --omit=dev --omit=optional', 'npm ci')), /dev dependencies/));
  it('HEALTHCHECK on /nope', () => expectProblem(check(mutate(text, "/health/live'", "/nope'")), /HEALTHCHECK does not request a liveness route/));
  it('HEALTHCHECK on readiness (a DB outage would restart the container)', () =>
    expectProblem(check(mutate(text, "/health/live'", "/health/ready'")), /liveness route/));
  it('HEALTHCHECK removed', () => expectProblem(check(mutate(text, /^HEALTHCHECK [\s\S]*?process\.exit\(1\)\)"\]\n/m, '')), /no HEALTHCHECK/));
  it('secret baked in with ENV', () => expectProblem(check(mutate(text, /^EXPOSE 3000$/m, 'ENV SESSION_SECRET=abc\nEXPOSE 3000')), /bakes a secret/));
  it('secret baked in with ARG', () => expectProblem(check(mutate(text, /^EXPOSE 3000$/m, 'ARG DB_PASSWORD\nEXPOSE 3000')), /bakes a secret/));
  it('.env copied in', () => expectProblem(check(mutate(text, 'COPY package.json ./\n', 'COPY package.json .env ./\n')), /\.env file/));
  it('NODE_ENV not production', () => expectProblem(check(mutate(text, /ENV NODE_ENV=production/, 'ENV NODE_ENV=development')), /NODE_ENV must be production/));
  it('HOST left at loopback', () => expectProblem(check(mutate(text, 'HOST=0.0.0.0', 'HOST=127.0.0.1')), /HOST must be 0\.0\.0\.0/));
  it('EXPOSE missing', () => expectProblem(check(mutate(text, /^EXPOSE 3000$/m, '')), /EXPOSE 3000/));
  it('no init as PID 1', () => expectProblem(check(mutate(text, /^ENTRYPOINT .*$/m, '')), /not an init/));
  it('shell-form CMD', () => expectProblem(check(mutate(text, /^CMD .*$/m, 'CMD node dist/src/main.js')), /shell form/));
  it('wrong entry point', () => expectProblem(check(mutate(text, '"dist/src/main.js"', '"dist/main.js"')), /dist\/src\/main\.js/));
  it('tini used but not installed', () => expectProblem(check(mutate(text, '--no-install-recommends tini', '--no-install-recommends ca-certificates')), /no RUN installs it/));
  it('STOPSIGNAL removed', () => expectProblem(check(mutate(text, /^STOPSIGNAL SIGTERM$/m, '')), /STOPSIGNAL/));
});

describe('.dockerignore check fails on a leaky context', () => {
  const text = L.read('.dockerignore');
  it('.env no longer ignored', () => expectProblem(C.checkDockerignore(mutate(text, /^\.env$/m, '')), /"\.env" not excluded/));
  it('.env re-included', () => expectProblem(C.checkDockerignore(`${text}\n!.env\n`), /re-included/));
  it('node_modules no longer ignored', () =>
    expectProblem(C.checkDockerignore(mutate(text, /^node_modules\n\*\*\/node_modules$/m, '')), /node_modules/));
});

describe('compose checks fail on a weakened app service', () => {
  const original = L.readYaml('docker-compose.yml');
  const check = (c: C.Doc) => C.checkCompose(c, { livenessPaths, knownEnv });
  const withApp = (f: (app: C.Doc, c: C.Doc) => void): C.Doc => {
    const c = structuredClone(original);
    f(c.services.app, c);
    return c;
  };

  it('original passes', () => expect(check(original)).toEqual([]));
  it('read_only off', () => expectProblem(check(withApp((a) => (a.read_only = false))), /read_only/));
  it('no tmpfs /tmp', () => expectProblem(check(withApp((a) => delete a.tmpfs)), /tmpfs/));
  it('cap_drop empty', () => expectProblem(check(withApp((a) => (a.cap_drop = []))), /cap_drop/));
  it('cap_add NET_ADMIN', () => expectProblem(check(withApp((a) => (a.cap_add = ['NET_ADMIN']))), /cap_add/));
  it('no-new-privileges dropped', () => expectProblem(check(withApp((a) => (a.security_opt = []))), /no-new-privileges/));
  it('runs as root', () => expectProblem(check(withApp((a) => (a.user = '0:0'))), /user is root/));
  it('healthcheck on /nope', () =>
    expectProblem(check(withApp((a) => (a.healthcheck.test = a.healthcheck.test.map((s: string) => s.replace('/health/live', '/nope'))))), /healthcheck does not request/));
  it('healthcheck disabled', () => expectProblem(check(withApp((a) => (a.healthcheck = { disable: true }))), /no healthcheck/));
  it('required variable missing', () => expectProblem(check(withApp((a) => delete a.environment.SESSION_SECRET)), /SESSION_SECRET not provided/));
  it('ADMIN_BOOTSTRAP_PASSWORD missing', () => expectProblem(check(withApp((a) => delete a.environment.ADMIN_BOOTSTRAP_PASSWORD)), /ADMIN_BOOTSTRAP_PASSWORD not provided/));
  it('literal session secret committed', () =>
    expectProblem(check(withApp((a) => (a.environment.SESSION_SECRET = 'dev-secret-dev-secret-dev-secret-123'))), /SESSION_SECRET is a literal/));
  it('literal password in DATABASE_URL', () =>
    expectProblem(check(withApp((a) => (a.environment.DATABASE_URL = 'postgres://rampart:hunter2@postgres:5432/rampart'))), /DATABASE_URL is a literal/));
  it('optional interpolation (empty when unset)', () =>
    expectProblem(check(withApp((a) => (a.environment.METRICS_TOKEN = '${METRICS_TOKEN}'))), /METRICS_TOKEN is a literal/));
  it('NODE_ENV not production', () => expectProblem(check(withApp((a) => (a.environment.NODE_ENV = 'development'))), /NODE_ENV/));
  it('misspelt variable', () => expectProblem(check(withApp((a) => (a.environment.SHUTDOWN_TIMOUT_MS = '1'))), /unknown variable SHUTDOWN_TIMOUT_MS/));
  it('test hooks enabled', () => expectProblem(check(withApp((a) => (a.environment.ENABLE_TEST_HOOKS = 'true'))), /ENABLE_TEST_HOOKS/));
  it('DATABASE_URL points at no service', () =>
    expectProblem(check(withApp((a) => (a.environment.DATABASE_URL = 'postgres://rampart:${POSTGRES_PASSWORD:?x}@db.example:5432/rampart'))), /does not point at a compose service/));
  it('starts before postgres is healthy', () => expectProblem(check(withApp((a) => (a.depends_on.postgres.condition = 'service_started'))), /postgres lacks condition service_healthy/));
  it('valkey dependency dropped', () => expectProblem(check(withApp((a) => delete a.depends_on.valkey)), /valkey lacks condition/));
  it('postgres without healthcheck', () => expectProblem(check(withApp((_a, c) => delete c.services.postgres.healthcheck)), /postgres: no healthcheck/));
  it('grace period shorter than the drain', () => expectProblem(check(withApp((a) => (a.stop_grace_period = '10s'))), /stop_grace_period/));
  it('drain longer than the grace period', () => expectProblem(check(withApp((a) => (a.environment.SHUTDOWN_TIMEOUT_MS = '30000'))), /stop_grace_period/));
  it('image on latest', () => expectProblem(check(withApp((_a, c) => (c.services.prometheus.image = 'prom/prometheus:latest'))), /prometheus: .*latest/));
  it('image without tag', () => expectProblem(check(withApp((_a, c) => (c.services.loki.image = 'grafana/loki'))), /loki: .*no tag/));
  it('no app service at all', () => expectProblem(check(withApp((_a, c) => delete c.services.app)), /no "app" service/));
});

describe('metrics access check fails when Prometheus could not read /metrics', () => {
  const compose = L.readYaml('docker-compose.yml');
  const prom = L.readYaml('deploy/prometheus/prometheus.yml');
  const job = (p: C.Doc) => p.scrape_configs.find((j: C.Doc) => j.job_name === 'rampart');

  it('original passes', () => expect(C.checkMetricsAccess(compose, prom)).toEqual([]));
  it('no bearer token and no trusted proxy', () => {
    const p = structuredClone(prom);
    delete job(p).authorization;
    expectProblem(C.checkMetricsAccess(compose, p), /no bearer token/);
  });
  it('token written into prometheus.yml', () => {
    const p = structuredClone(prom);
    job(p).authorization = { type: 'Bearer', credentials: 'abc' };
    expectProblem(C.checkMetricsAccess(compose, p), /literally/);
  });
  it('app has no METRICS_TOKEN', () => {
    const c = structuredClone(compose);
    delete c.services.app.environment.METRICS_TOKEN;
    expectProblem(C.checkMetricsAccess(c, prom), /no METRICS_TOKEN/);
  });
  it('secret not granted to prometheus', () => {
    const c = structuredClone(compose);
    c.services.prometheus.secrets = [];
    expectProblem(C.checkMetricsAccess(c, prom), /not granted/);
  });
  it('scrape target is not the app', () => {
    const p = structuredClone(prom);
    job(p).static_configs[0].targets = ['rampart:8080'];
    expectProblem(C.checkMetricsAccess(compose, p), /no scrape job targets app:3000/);
  });
  it('wrong metrics path', () => {
    const p = structuredClone(prom);
    job(p).metrics_path = '/prometheus';
    expectProblem(C.checkMetricsAccess(compose, p), /metrics_path/);
  });
});

describe('Kubernetes checks fail on a broken Deployment', () => {
  const original = L.loadK8s();
  const check = (b: C.K8sBundle, r: C.ProbeRoutes = routes) => C.checkKubernetes(b, { routes: r, knownEnv });
  const clone = (): C.K8sBundle => structuredClone({ kustomization: original.kustomization, objects: original.objects, files: original.files });
  const withDeploy = (f: (pod: C.Doc, container: C.Doc, b: C.K8sBundle) => void): C.K8sBundle => {
    const b = clone();
    const d = b.objects.find((o) => o.kind === 'Deployment');
    f(d.spec.template.spec, d.spec.template.spec.containers[0], b);
    return b;
  };
  const literal = (b: C.K8sBundle, key: string, value: string | null) => {
    const lits: string[] = b.kustomization.configMapGenerator[0].literals;
    const i = lits.findIndex((l) => l.startsWith(`${key}=`));
    if (value === null) lits.splice(i, 1);
    else if (i < 0) lits.push(`${key}=${value}`);
    else lits[i] = `${key}=${value}`;
  };
  const envEntry = (c: C.Doc, name: string) => c.env.find((e: C.Doc) => e.name === name);

  it('original passes', () => expect(check(clone())).toEqual([]));
  it('liveness probe on /nope', () => expectProblem(check(withDeploy((_p, c) => (c.livenessProbe.httpGet.path = '/nope'))), /livenessProbe path \/nope/));
  it('liveness probe on readiness (DB outage would restart pods)', () =>
    expectProblem(check(withDeploy((_p, c) => (c.livenessProbe.httpGet.path = '/health/ready'))), /livenessProbe path \/health\/ready is not a liveness route/));
  it('readiness probe on liveness (would keep routing while draining)', () =>
    expectProblem(check(withDeploy((_p, c) => (c.readinessProbe.httpGet.path = '/health/live'))), /readinessProbe path/));
  it('startup probe on /health/deep', () => expectProblem(check(withDeploy((_p, c) => (c.startupProbe.httpGet.path = '/health/deep'))), /startupProbe path/));
  it('readiness probe removed', () => expectProblem(check(withDeploy((_p, c) => delete c.readinessProbe)), /readinessProbe missing/));
  it('probe on the wrong port', () => expectProblem(check(withDeploy((_p, c) => (c.livenessProbe.httpGet.port = 8080))), /livenessProbe port 8080/));
  it('liveness route missing from the health controller', () => {
    const partial = C.deriveProbeRoutes(L.loadContract(), ["@Controller('health') class H { @Get('ready') r() {} }"]);
    expect([...partial.liveness]).toEqual([]);
    expectProblem(check(clone(), partial), /livenessProbe path \/health\/live is not a liveness route/);
  });
  it('runAsNonRoot false', () => expectProblem(check(withDeploy((p, c) => { p.securityContext.runAsNonRoot = false; c.securityContext.runAsNonRoot = false; })), /runAsNonRoot/));
  it('runAsUser 0', () => expectProblem(check(withDeploy((p, c) => { p.securityContext.runAsUser = 0; c.securityContext.runAsUser = 0; })), /runAsUser/));
  it('writable root filesystem', () => expectProblem(check(withDeploy((_p, c) => (c.securityContext.readOnlyRootFilesystem = false))), /readOnlyRootFilesystem/));
  it('privilege escalation allowed', () => expectProblem(check(withDeploy((_p, c) => delete c.securityContext.allowPrivilegeEscalation)), /allowPrivilegeEscalation/));
  it('capabilities kept', () => expectProblem(check(withDeploy((_p, c) => (c.securityContext.capabilities.drop = []))), /capabilities\.drop/));
  it('capability added', () => expectProblem(check(withDeploy((_p, c) => (c.securityContext.capabilities.add = ['NET_RAW']))), /capabilities\.add/));
  it('no seccomp profile', () => expectProblem(check(withDeploy((p, c) => { delete p.securityContext.seccompProfile; delete c.securityContext.seccompProfile; })), /seccompProfile/));
  it('no /tmp emptyDir', () => expectProblem(check(withDeploy((_p, c) => (c.volumeMounts = []))), /emptyDir mounted at \/tmp/));
  it('no memory limit', () => expectProblem(check(withDeploy((_p, c) => delete c.resources.limits.memory)), /resources\.limits\.memory/));
  it('single replica', () => expectProblem(check(withDeploy((_p, _c, b) => (b.objects.find((o) => o.kind === 'Deployment').spec.replicas = 1))), /replicas 1 < 2/));
  it('image on latest', () => expectProblem(check(withDeploy((_p, c) => (c.image = 'rampart:latest'))), /latest/));
  it('kustomize newTag latest', () => expectProblem(check(withDeploy((_p, _c, b) => (b.kustomization.images[0].newTag = 'latest'))), /newTag latest/));
  it('grace period too short', () => expectProblem(check(withDeploy((p) => (p.terminationGracePeriodSeconds = 20))), /terminationGracePeriodSeconds 20 < /));
  it('grace period left at the default with a longer drain', () =>
    expectProblem(check(withDeploy((p, _c, b) => { delete p.terminationGracePeriodSeconds; literal(b, 'SHUTDOWN_TIMEOUT_MS', '25000'); })), /terminationGracePeriodSeconds 30 < /));
  it('longer preStop eats the budget', () => expectProblem(check(withDeploy((_p, c) => (c.lifecycle.preStop.exec.command = ['/bin/sleep', '15']))), /terminationGracePeriodSeconds/));
  it('longer drain delay eats the budget', () => expectProblem(check(withDeploy((_p, _c, b) => literal(b, 'SHUTDOWN_DRAIN_DELAY_MS', '15000'))), /terminationGracePeriodSeconds/));
  it('no preStop hook', () => expectProblem(check(withDeploy((_p, c) => delete c.lifecycle)), /no preStop/));
  it('secret as a plain value', () =>
    expectProblem(check(withDeploy((_p, c) => { const e = envEntry(c, 'SESSION_SECRET'); delete e.valueFrom; e.value = 'x'.repeat(40); })), /SESSION_SECRET is a secret but comes from value/));
  it('secret in the ConfigMap', () =>
    expectProblem(check(withDeploy((_p, c, b) => { c.env = c.env.filter((e: C.Doc) => e.name !== 'REDIS_URL'); literal(b, 'REDIS_URL', 'redis://r:6379'); })), /ConfigMap rampart-config: REDIS_URL is a secret/));
  it('secrets pulled in wholesale with envFrom secretRef', () =>
    expectProblem(check(withDeploy((_p, c) => c.envFrom.push({ secretRef: { name: 'rampart-secrets' } }))), /secretKeyRef instead/));
  it('required variable missing', () => expectProblem(check(withDeploy((_p, c) => (c.env = c.env.filter((e: C.Doc) => e.name !== 'DATABASE_URL')))), /DATABASE_URL not provided/));
  it('ADMIN_BOOTSTRAP_PASSWORD missing', () =>
    expectProblem(check(withDeploy((_p, c) => (c.env = c.env.filter((e: C.Doc) => e.name !== 'ADMIN_BOOTSTRAP_PASSWORD')))), /ADMIN_BOOTSTRAP_PASSWORD not provided/));
  it('several workers per pod', () => expectProblem(check(withDeploy((_p, _c, b) => literal(b, 'WORKERS', '4'))), /WORKERS must be 1/));
  it('misspelt variable', () => expectProblem(check(withDeploy((_p, _c, b) => literal(b, 'LOGLEVEL', 'info'))), /unknown variable LOGLEVEL/));
  it('config map reference broken', () => expectProblem(check(withDeploy((_p, c) => (c.envFrom[0].configMapRef.name = 'other'))), /not defined in the kustomization/));
  it('example secret deployed', () => expectProblem(check(withDeploy((_p, _c, b) => b.kustomization.resources.push('secret.example.yaml'))), /must not be deployed/));
  it('committed Secret with values', () =>
    expectProblem(check(withDeploy((_p, _c, b) => b.objects.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, stringData: { a: 'b' } }))), /secret values committed/));
  it('missing resource file', () => expectProblem(check(withDeploy((_p, _c, b) => b.kustomization.resources.push('ingress.yaml'))), /ingress\.yaml does not exist/));
  it('HPA on autoscaling/v1', () => expectProblem(check(withDeploy((_p, _c, b) => (b.objects.find((o) => o.kind === 'HorizontalPodAutoscaler').apiVersion = 'autoscaling/v1'))), /autoscaling\/v2/));
  it('HPA ceiling beyond the PostgreSQL connection budget', () =>
    expectProblem(check(withDeploy((_p, _c, b) => (b.objects.find((o) => o.kind === 'HorizontalPodAutoscaler').spec.maxReplicas = 10))), /PostgreSQL budget/));
  it('bigger pools per pod beyond the PostgreSQL connection budget', () =>
    expectProblem(check(withDeploy((_p, _c, b) => literal(b, 'DB_POOL_SIZE', '20'))), /PostgreSQL budget/));
  it('no PodDisruptionBudget', () => expectProblem(check(withDeploy((_p, _c, b) => (b.objects = b.objects.filter((o) => o.kind !== 'PodDisruptionBudget')))), /PodDisruptionBudget/));
  it('Service selects other pods', () => expectProblem(check(withDeploy((_p, _c, b) => (b.objects.find((o) => o.kind === 'Service').spec.selector = { app: 'x' }))), /no Service selects/));
  it('NetworkPolicy without Redis egress', () =>
    expectProblem(check(withDeploy((_p, _c, b) => {
      const np = b.objects.find((o) => o.kind === 'NetworkPolicy');
      np.spec.egress = np.spec.egress.filter((r: C.Doc) => !(r.ports ?? []).some((x: C.Doc) => x.port === 6379));
    })), /TCP\/6379/));
  it('NetworkPolicy admitting everyone', () =>
    expectProblem(check(withDeploy((_p, _c, b) => (b.objects.find((o) => o.kind === 'NetworkPolicy').spec.ingress[0].from = []))), /admits every source/));
});

describe('alert checks fail on broken rules', () => {
  const original = L.readYaml('deploy/prometheus/alerts.yml');
  const rule = (r: C.Doc, name: string) => r.groups.flatMap((g: C.Doc) => g.rules).find((x: C.Doc) => x.alert === name);

  it('original passes', () => expect(C.checkAlerts(original, metrics)).toEqual([]));
  it('alert removed', () => {
    const r = structuredClone(original);
    for (const g of r.groups) g.rules = g.rules.filter((x: C.Doc) => x.alert !== 'BreakerOpen');
    expectProblem(C.checkAlerts(r, metrics), /BreakerOpen missing/);
  });
  it('severity label missing', () => {
    const r = structuredClone(original);
    delete rule(r, 'PoolSaturated').labels.severity;
    expectProblem(C.checkAlerts(r, metrics), /PoolSaturated: severity/);
  });
  it('misspelt metric', () => {
    const r = structuredClone(original);
    rule(r, 'PoolSaturated').expr = 'max(rampart_db_pool_saturaton{job="rampart"}) > 0.8';
    expectProblem(C.checkAlerts(r, metrics), /unknown metric rampart_db_pool_saturaton/);
  });
  it('expression on another job', () => {
    const r = structuredClone(original);
    rule(r, 'InstanceDown').expr = 'up{job="node"} == 0';
    expectProblem(C.checkAlerts(r, metrics), /job="rampart"/);
  });
});

describe('dashboard checks fail on a broken dashboard', () => {
  const original = L.readJson('deploy/grafana/dashboards/rampart.json');
  const uids = new Set(['prometheus', 'loki']);
  const check = (d: C.Doc) => C.checkDashboard(d, uids, metrics);
  const logsPanel = (d: C.Doc) => d.panels.find((p: C.Doc) => p.type === 'logs');

  it('original passes', () => expect(check(original)).toEqual([]));
  it('logs panel removed', () => {
    const d = structuredClone(original);
    d.panels = d.panels.filter((p: C.Doc) => p.type !== 'logs');
    expectProblem(check(d), /no logs panel/);
  });
  it('logs not filtered by correlationId', () => {
    const d = structuredClone(original);
    logsPanel(d).targets[0].expr = '{job="rampart"}';
    expectProblem(check(d), /not filtered by \$correlationId/);
  });
  it('correlationId as a stream label', () => {
    const d = structuredClone(original);
    logsPanel(d).targets[0].expr = '{job="rampart", correlationId="$correlationId"}';
    expectProblem(check(d), /stream label/);
  });
  it('correlationId variable not a text box', () => {
    const d = structuredClone(original);
    d.templating.list.find((v: C.Doc) => v.name === 'correlationId').type = 'constant';
    expectProblem(check(d), /textbox variable/);
  });
  it('p99 latency removed', () => {
    const d = structuredClone(original);
    for (const p of d.panels) for (const t of p.targets ?? []) t.expr = String(t.expr ?? '').replace('histogram_quantile(0.99', 'histogram_quantile(0.9');
    expectProblem(check(d), /no p99 latency/);
  });
  it('breaker panel removed', () => {
    const d = structuredClone(original);
    d.panels = d.panels.filter((p: C.Doc) => !JSON.stringify(p.targets ?? []).includes('rampart_breaker_state'));
    expectProblem(check(d), /rampart_breaker_state/);
  });
  it('unknown metric', () => {
    const d = structuredClone(original);
    d.panels.find((p: C.Doc) => p.title === 'DB pool saturation').targets[0].expr = 'rampart_pool_saturation';
    expectProblem(check(d), /unknown metric rampart_pool_saturation/);
  });
  it('datasource uid not provisioned', () => {
    const d = structuredClone(original);
    logsPanel(d).datasource = { type: 'loki', uid: 'loki-old' };
    expectProblem(check(d), /uid loki-old is not provisioned/);
  });
});

describe('Alloy check fails on a broken pipeline', () => {
  const text = L.read('deploy/alloy/config.alloy');
  it('original passes', () => expect(C.checkAlloy(text)).toEqual([]));
  it('correlationId as a label', () =>
    expectProblem(C.checkAlloy(mutate(text, /(stage\.labels \{\s*values = \{)/, '$1\n      correlationId = "",')), /correlationId is a label/));
  it('structured metadata removed', () =>
    expectProblem(C.checkAlloy(mutate(text, /stage\.structured_metadata \{[\s\S]*?\n  \}\n/, '')), /structured metadata/));
  it('# comment', () => expectProblem(C.checkAlloy(`# note\n${text}`), /"#" comments/));
  it('pushes elsewhere', () => expectProblem(C.checkAlloy(mutate(text, 'http://loki:3100/loki/api/v1/push', 'http://loki:9999/push')), /loki\.write/));
  it('docker source removed', () => expectProblem(C.checkAlloy(mutate(text, /loki\.source\.docker "rampart" \{[\s\S]*?\n\}\n/, '')), /no loki\.source\.docker/));
  it('unbalanced braces', () => expectProblem(C.checkAlloy(`${text}\n}\n`), /unbalanced/));
});

describe('Loki and Grafana checks fail on broken config', () => {
  const loki = L.readYaml('deploy/loki/config.yaml');
  const compose = L.readYaml('docker-compose.yml');
  const datasources = L.readYaml('deploy/grafana/provisioning/datasources/datasources.yaml');
  const providers = L.readYaml('deploy/grafana/provisioning/dashboards/rampart.yaml');

  it('originals pass', () => {
    expect(C.checkLoki(loki)).toEqual([]);
    expect(C.checkGrafana({ datasources, providers }, compose)).toEqual([]);
  });
  it('structured metadata disabled', () => {
    const l = structuredClone(loki);
    l.limits_config.allow_structured_metadata = false;
    expectProblem(C.checkLoki(l), /allow_structured_metadata/);
  });
  it('old schema', () => {
    const l = structuredClone(loki);
    l.schema_config.configs[0].schema = 'v12';
    expectProblem(C.checkLoki(l), /v13/);
  });
  it('datasource pointing nowhere', () => {
    const d = structuredClone(datasources);
    d.datasources.find((x: C.Doc) => x.type === 'loki').url = 'http://localhost:3100';
    expectProblem(C.checkGrafana({ datasources: d, providers }, compose), /loki datasource/);
  });
  it('provider path not mounted', () => {
    const p = structuredClone(providers);
    p.providers[0].options.path = '/var/lib/grafana/dashboards';
    expectProblem(C.checkGrafana({ datasources, providers: p }, compose), /provider rampart: path/);
  });
});
