// Writes deploy/k8s/monitoring/prometheusrule.yaml from deploy/prometheus/alerts.yml, so the
// Prometheus Operator loads exactly the rules compose's Prometheus loads (and promtool tests).
// Run after changing alerts.yml: `node scripts/prometheus-rule.mjs` (test/static checks they agree).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const PROMETHEUS_RULE_PATH = join(ROOT, 'deploy', 'k8s', 'monitoring', 'prometheusrule.yaml');

export function prometheusRule() {
  const rules = parse(readFileSync(join(ROOT, 'deploy', 'prometheus', 'alerts.yml'), 'utf8'));
  const resource = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'rampart', labels: { 'app.kubernetes.io/name': 'rampart', 'app.kubernetes.io/part-of': 'rampart' } },
    spec: { groups: rules.groups },
  };
  return `# GENERATED from deploy/prometheus/alerts.yml by scripts/prometheus-rule.mjs; do not edit.\n${stringify(resource, { lineWidth: 0 })}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(PROMETHEUS_RULE_PATH, prometheusRule());
  console.log(`wrote ${PROMETHEUS_RULE_PATH}`);
}
