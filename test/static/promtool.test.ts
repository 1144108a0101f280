// promtool on the committed Prometheus files: `check config`, `check rules` and the rule unit
// tests (deploy/prometheus/alerts.test.yml). scripts/run-tests.mjs installs Debian's `prometheus`
// package (which ships promtool) when it is missing and it runs as root; without promtool these
// are skipped, with the reason in the test name. The other static checks never need it.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from './load.js';

function findPromtool(): string | null {
  if (process.env.PROMTOOL_PATH) return existsSync(process.env.PROMTOOL_PATH) ? process.env.PROMTOOL_PATH : null;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'promtool'))) return join(dir, 'promtool');
  }
  return null;
}

const promtool = findPromtool();
const PROM_DIR = join(ROOT, 'deploy', 'prometheus');
/** What the unit tests expect the external label `runbook_base_url` to be. */
const RUNBOOK_BASE = 'https://runbooks.example.com/rampart/RUNBOOK.md';

function run(args: string[], cwd: string): { ok: boolean; output: string } {
  const result = spawnSync(promtool!, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}` };
}

const work = mkdtempSync(join(tmpdir(), 'rampart-promtool-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(promtool === null)('promtool (Prometheus files as committed)', () => {
  it('check config: prometheus.yml with its rule files, alerting block and scrape jobs', () => {
    // The bearer-token file exists only inside the compose container; promtool insists it exists.
    const dir = join(work, 'config');
    spawnSync('mkdir', ['-p', dir]);
    const token = join(dir, 'metrics_token');
    writeFileSync(token, 'token-for-promtool\n');
    writeFileSync(join(dir, 'prometheus.yml'), readFileSync(join(PROM_DIR, 'prometheus.yml'), 'utf8').replaceAll('/run/secrets/metrics_token', token));
    copyFileSync(join(PROM_DIR, 'alerts.yml'), join(dir, 'alerts.yml'));
    const result = run(['check', 'config', 'prometheus.yml'], dir);
    expect(result.ok, result.output).toBe(true);
    expect(result.output).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('check rules: alerts.yml', () => {
    const result = run(['check', 'rules', 'alerts.yml'], PROM_DIR);
    expect(result.ok, result.output).toBe(true);
  });

  it('test rules: alerts.test.yml (every alert fires when it should, stays quiet when it should not, absolute runbook_url)', () => {
    let result = run(['test', 'rules', 'alerts.test.yml'], PROM_DIR);
    if (!result.ok && /field external_labels not found/.test(result.output)) {
      // promtool before 2.46 (Debian 12 ships 2.42) has no external_labels in unit tests: render the
      // label into a copy of the rules instead; `check rules` above has parsed the template itself.
      const dir = join(work, 'unit');
      spawnSync('mkdir', ['-p', dir]);
      writeFileSync(join(dir, 'alerts.yml'), readFileSync(join(PROM_DIR, 'alerts.yml'), 'utf8').replaceAll('{{ $externalLabels.runbook_base_url }}', RUNBOOK_BASE));
      const tests = readFileSync(join(PROM_DIR, 'alerts.test.yml'), 'utf8');
      const withoutLabels = tests.replace(/\nexternal_labels:\n(?: {2}.*\n)+/, '\n');
      expect(withoutLabels).not.toMatch(/^external_labels:/m);
      writeFileSync(join(dir, 'alerts.test.yml'), withoutLabels);
      result = run(['test', 'rules', 'alerts.test.yml'], dir);
    }
    expect(result.ok, result.output).toBe(true);
    expect(result.output).toMatch(/SUCCESS/);
  });

});

describe('alert rule unit tests (static)', () => {
  it('every alert links absolutely (external label runbook_base_url) to a RUNBOOK.md heading', () => {
    const rules = readFileSync(join(PROM_DIR, 'alerts.yml'), 'utf8');
    const alerts = [...rules.matchAll(/^\s*- alert: (\w+)/gm)].map((m) => m[1]);
    const urls = [...rules.matchAll(/runbook_url: "([^"]*)"/g)].map((m) => m[1]!);
    expect(urls.length).toBe(alerts.length);
    // GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes.
    const slugs = new Set([...readFileSync(join(ROOT, 'RUNBOOK.md'), 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) => m[1]!.trim().toLowerCase().replace(/[^\w\- ]/g, '').replaceAll(' ', '-')));
    for (const url of urls) {
      const anchor = /^\{\{ \$externalLabels\.runbook_base_url \}\}#([a-z0-9-]+)$/.exec(url)?.[1];
      expect(anchor, url).toBeDefined();
      expect(slugs.has(anchor!), `RUNBOOK.md has no heading for #${anchor}`).toBe(true);
    }
  });

  it('the unit tests cover every alert', () => {
    const alerts = [...readFileSync(join(PROM_DIR, 'alerts.yml'), 'utf8').matchAll(/^\s*- alert: (\w+)/gm)].map((m) => m[1]);
    const tested = new Set([...readFileSync(join(PROM_DIR, 'alerts.test.yml'), 'utf8').matchAll(/alertname: (\w+)/g)].map((m) => m[1]));
    const untested = alerts.filter((name) => !tested.has(name));
    expect(untested).toEqual([]);
  });
});

if (promtool === null) {
  describe('promtool', () => {
    it.skip('promtool not installed (Debian: apt-get install -y --no-install-recommends prometheus, or set PROMTOOL_PATH): check config, check rules and rule unit tests did not run', () => undefined);
  });
}

describe('Kubernetes monitoring (Prometheus Operator)', () => {
  it('prometheusrule.yaml is alerts.yml as generated (node scripts/prometheus-rule.mjs)', async () => {
    // @ts-expect-error -- a plain .mjs script without type declarations
    const { prometheusRule, PROMETHEUS_RULE_PATH } = (await import('../../scripts/prometheus-rule.mjs')) as { prometheusRule(): string; PROMETHEUS_RULE_PATH: string };
    expect(readFileSync(PROMETHEUS_RULE_PATH, 'utf8'), 'run `node scripts/prometheus-rule.mjs` after changing alerts.yml').toBe(prometheusRule());
  });

  it('the PodMonitor names the job "rampart" from the pod label the Deployment sets, and sends the metrics token', () => {
    const monitor = parse(readFileSync(join(ROOT, 'deploy', 'k8s', 'monitoring', 'podmonitor.yaml'), 'utf8')) as {
      spec: { jobLabel: string; selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: { port: string; path: string; authorization?: { credentials?: { name: string; key: string } } }[] };
    };
    const deployment = parse(readFileSync(join(ROOT, 'deploy', 'k8s', 'deployment.yaml'), 'utf8')) as {
      spec: { template: { metadata: { labels: Record<string, string> }; spec: { containers: { ports: { name: string }[] }[] } } };
    };
    const podLabels = deployment.spec.template.metadata.labels;
    expect(podLabels[monitor.spec.jobLabel]).toBe('rampart');
    for (const [key, value] of Object.entries(monitor.spec.selector.matchLabels)) expect(podLabels[key], key).toBe(value);
    const endpoint = monitor.spec.podMetricsEndpoints[0]!;
    expect(deployment.spec.template.spec.containers[0]!.ports.map((port) => port.name)).toContain(endpoint.port);
    expect(endpoint.path).toBe('/metrics');
    expect(endpoint.authorization?.credentials).toEqual({ name: 'rampart-secrets', key: 'metrics-token' });
  });
});

describe('Alertmanager (compose)', () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- free-form YAML, checked field by field below
  type Doc = any;
  const read = (path: string) => parse(readFileSync(join(ROOT, path), 'utf8')) as Doc;

  it('Prometheus sends alerts to the compose Alertmanager, whose every route ends at a webhook read from the compose secret', () => {
    const compose = read('docker-compose.yml');
    const prometheus = read('deploy/prometheus/prometheus.yml');
    const alertmanager = read('deploy/alertmanager/alertmanager.yml');
    const service = compose.services.alertmanager as Doc;
    expect(service, 'compose service alertmanager').toBeDefined();
    const targets = (prometheus.alerting.alertmanagers as Doc[]).flatMap((am) => (am.static_configs as Doc[]).flatMap((sc) => sc.targets as string[]));
    expect(targets).toContain('alertmanager:9093');
    expect(service.volumes).toContain('./deploy/alertmanager:/etc/alertmanager:ro');
    expect(service.command).toContain('--config.file=/etc/alertmanager/alertmanager.yml');

    const receivers = new Map((alertmanager.receivers as Doc[]).map((r) => [r.name as string, r]));
    const routes = (route: Doc): Doc[] => [route, ...((route.routes as Doc[] | undefined) ?? []).flatMap(routes)];
    for (const route of routes(alertmanager.route as Doc)) {
      const name = (route.receiver as string | undefined) ?? (alertmanager.route.receiver as string);
      const receiver = receivers.get(name);
      expect(receiver, `receiver ${name}`).toBeDefined();
      const hooks = (receiver!.webhook_configs as Doc[] | undefined) ?? [];
      expect(hooks.length, `receiver ${name} has a webhook`).toBeGreaterThan(0);
      for (const hook of hooks) {
        // The URL is a secret of the operator's, never committed.
        expect(hook.url, 'webhook url in the file').toBeUndefined();
        const secret = /^\/run\/secrets\/(\w+)$/.exec(String(hook.url_file))?.[1];
        expect(secret, String(hook.url_file)).toBeDefined();
        expect(service.secrets).toContain(secret);
        expect(compose.secrets[secret!]).toEqual({ environment: 'ALERT_WEBHOOK_URL' });
      }
    }
    // The runbook base reaches Prometheus' external labels from the environment (Prometheus 3 expands it).
    expect(prometheus.global.external_labels.runbook_base_url).toBe('${RUNBOOK_BASE_URL}');
    expect(String(compose.services.prometheus.environment.RUNBOOK_BASE_URL)).toMatch(/^\$\{RUNBOOK_BASE_URL:-https:\/\/[^}]+\}$/);
  });
});
