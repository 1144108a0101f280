// `npm run chaos`: every test/chaos/**/*.test.ts with the long fault durations (CHAOS_FULL=1),
// one file at a time so timings mean something, then report.md and report.json under
// test/chaos/results/<UTC timestamp>/ (git-ignored), and a PASS/FAIL verdict (exit 1 on FAIL).
// Extra arguments go to Vitest (`npm run chaos -- pg-stall` runs the matching files only).
// CHAOS_FULL=0 npm run chaos gives the fast versions, as `npm test` runs them.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const startedAt = new Date();
const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
const dir = join(ROOT, 'test', 'chaos', 'results', stamp);
mkdirSync(dir, { recursive: true });
const full = process.env.CHAOS_FULL ?? '1';
const vitestJson = join(dir, 'vitest.json');

// Positional arguments narrow the run to matching chaos files; options pass through.
const extra = process.argv.slice(2);
const named = extra.filter((arg) => !arg.startsWith('-')).map((arg) => (arg.startsWith('test/chaos/') ? arg : `test/chaos/${arg}`));
// Stopping and self-healing scenarios spawn clusters of their own and live with the cluster tests.
const DEFAULT_FILES = ['test/chaos/', 'test/cluster/stop-signals.test.ts', 'test/cluster/self-healing.test.ts'];
const filters = [...extra.filter((arg) => arg.startsWith('-')), ...(named.length > 0 ? named : DEFAULT_FILES)];

console.log(`chaos: running ${filters.join(' ')} with CHAOS_FULL=${full}, one file at a time; results in ${relative(ROOT, dir)}`);
const run = spawnSync(
  process.execPath,
  [
    join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'),
    'run',
    '--project',
    'integration',
    '--no-file-parallelism',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${vitestJson}`,
    ...filters,
  ],
  { cwd: ROOT, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test', CHAOS_FULL: full, CHAOS_REPORT_DIR: dir } },
);

/** Scenario results the harness appended, one JSON object per line. */
function readResults() {
  const file = join(dir, 'results.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line));
}

function readVitest() {
  try {
    return JSON.parse(readFileSync(vitestJson, 'utf8'));
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error), testResults: [] };
  }
}

const results = readResults();
// One-line figures of tests that measure without the scenario harness (support/figures.ts).
const figuresFile = join(dir, 'figures.jsonl');
const figures = existsSync(figuresFile)
  ? readFileSync(figuresFile, 'utf8').split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line))
  : [];
const figuresOf = (path, name) => figures.filter((f) => f.test === name && f.file && relative(ROOT, f.file) === path).map((f) => f.text);
const vitest = readVitest();
const counts = (map) => {
  const entries = Object.entries(map ?? {});
  return entries.length === 0 ? '-' : entries.map(([k, v]) => `${k} ${v}`).join(', ');
};
const firstLine = (text) => String(text ?? '').replace(/\u001b\[[0-9;]*m/g, '').split('\n').find((l) => l.trim() !== '')?.trim().slice(0, 300) ?? '';

const rows = [];
const used = new Set();
for (const file of [...vitest.testResults].sort((a, b) => a.name.localeCompare(b.name))) {
  const path = relative(ROOT, file.name);
  if (file.assertionResults.length === 0) {
    rows.push({ file: path, test: '(file)', scenario: path, result: null, vitest: file.status, failure: firstLine(file.message), pass: file.status === 'passed' });
    continue;
  }
  for (const test of file.assertionResults) {
    const name = [...test.ancestorTitles, test.title].join(' > ');
    const mine = results.filter((r, index) => !used.has(index) && r.test === name && r.file && relative(ROOT, r.file) === path);
    for (const r of mine) used.add(results.indexOf(r));
    const failure = test.status === 'failed' ? firstLine(test.failureMessages?.join('\n')) : '';
    const testPass = test.status === 'passed' || test.status === 'skipped' || test.status === 'pending';
    if (mine.length === 0) {
      rows.push({ file: path, test: name, scenario: `${basename(path, '.test.ts')}: ${test.title}`, result: null, figures: figuresOf(path, name), vitest: test.status, failure, pass: testPass });
    } else {
      for (const r of mine) rows.push({ file: path, test: name, scenario: r.scenario, result: r, vitest: test.status, failure, pass: testPass && r.passed });
    }
  }
}
// Results whose test the JSON report does not list (it crashed before reporting): still shown.
results.forEach((r, index) => {
  if (!used.has(index)) rows.push({ file: r.file ? relative(ROOT, r.file) : '?', test: r.test ?? '?', scenario: r.scenario, result: r, vitest: 'unknown', failure: '', pass: r.passed });
});

const header = ['scenario', 'fault', 'fault duration', 'requests', 'non-2xx by code', 'no answer', 'violations', 'writes ack / missing / dup / unack-stored', 'recovery ms', 'longest gap ms', 'unintended exits', 'result'];
const cell = (value) => String(value).replace(/\|/g, '\\|').replace(/\n/g, ' ');
const tableRows = rows.map((row) => {
  const r = row.result;
  if (!r) return [row.scenario, row.figures?.length ? 'see its figures below' : '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', row.pass ? 'PASS' : 'FAIL'];
  const non2xx = Object.entries(r.statuses).filter(([s]) => s !== '0' && !s.startsWith('2'));
  return [
    r.scenario,
    r.fault,
    r.faults.map((f) => (f.durationMs === 0 ? 'instant' : `${(f.durationMs / 1000).toFixed(1)} s`)).join(' + ') || '-',
    r.requests,
    non2xx.length === 0 ? '-' : `${non2xx.map(([s, n]) => `${s}: ${n}`).join(', ')} (${counts(r.codes)})`,
    counts(r.fetchErrors),
    r.violations.length,
    `${r.writes.acknowledged} / ${r.writes.missing.length} / ${r.writes.duplicates.length} / ${r.writes.unacknowledgedStored}`,
    r.recoveryMs ?? '-',
    r.longestGapMs,
    r.exits.unintended.length,
    row.pass ? 'PASS' : 'FAIL',
  ];
});
const markdownTable = (head, body) =>
  [`| ${head.map(cell).join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...body.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');

const failedRows = rows.filter((row) => !row.pass);
const vitestOk = run.status === 0;
const passed = vitestOk && failedRows.length === 0 && rows.length > 0;
const verdict = passed
  ? `chaos: PASS (${rows.length} rows, ${results.length} scenarios)`
  : `chaos: FAIL (${failedRows.length} of ${rows.length} failed${vitestOk ? '' : `, vitest exit ${run.status}`}${rows.length === 0 ? ', nothing ran' : ''}: ${failedRows.map((r) => r.scenario).join(', ')})`;

const details = rows
  .filter((row) => row.result || row.figures?.length || !row.pass)
  .map((row) => {
    const r = row.result;
    const lines = [`### ${row.scenario} (${row.pass ? 'PASS' : 'FAIL'})`, '', `${row.file}: ${row.test}`, ''];
    if (r) {
      lines.push(
        `- workers ${r.workers}, users ${r.users}, ${r.full ? 'full' : 'fast'} durations, ${(r.elapsedMs / 1000).toFixed(1)} s in all`,
        `- faults: ${r.faults.map((f) => `${f.label} at ${(f.atMs / 1000).toFixed(1)} s for ${f.durationMs} ms`).join('; ') || '-'}`,
        `- latency p50 / p99 / max: ${r.latency.p50} / ${r.latency.p99} / ${r.latency.max} ms; during faults ${r.faultLatency.p50} / ${r.faultLatency.p99} / ${r.faultLatency.max} ms (n=${r.faultLatency.n})`,
        `- statuses: ${counts(r.statuses)}; codes: ${counts(r.codes)}; no answer: ${counts(r.fetchErrors)}; failed operations after client retries: ${r.failedOperations ?? '-'}`,
        `- writes: ${r.writes.total} sent, ${r.writes.acknowledged} acknowledged, ${r.writes.missing.length} missing, ${r.writes.duplicates.length} stored twice, ${r.writes.unacknowledged} unacknowledged of which ${r.writes.unacknowledgedStored} stored`,
        `- recovery after the fault cleared: ${r.recoveryMs ?? 'never'} ms; longest time without a successful answer: ${r.longestGapMs} ms`,
        `- measures: ${Object.entries(r.measures).map(([k, v]) => `${k}=${v}`).join(', ') || '-'}`,
        ...r.checks.filter((c) => !c.ok).map((c) => `- FAILED: ${c.name}${c.detail ? `: ${c.detail.slice(0, 400)}` : ''}`),
      );
      if (r.writes.unacknowledgedStoredAnswers.length > 0) lines.push(`- unacknowledged yet stored (answer the client had): ${r.writes.unacknowledgedStoredAnswers.slice(0, 5).join('; ')}`);
      if (r.violations.length > 0) lines.push(`- first violations: ${r.violations.slice(0, 3).join(' | ').slice(0, 600)}`);
    }
    for (const text of row.figures ?? []) lines.push(`- measured: ${text}`);
    if (row.failure) lines.push(`- test failure: ${row.failure}`);
    return lines.join('\n');
  })
  .join('\n\n');

const busy = loadavg()[0] / cpus().length;
const markdown = [
  `# Rampart chaos run, ${startedAt.toISOString()}`,
  '',
  `CHAOS_FULL=${full}; ${cpus().length} CPUs, load average per CPU at the end ${busy.toFixed(2)}${busy > 0.5 ? ' (WARNING: a busy machine stretches startup and recovery figures)' : ''}.`,
  'Columns: fault duration as injected; non-2xx answers by status (contract codes); requests that got no HTTP answer; answers without a contract code or any 500;',
  'writes acknowledged / acknowledged but missing / stored twice / not acknowledged yet stored; recovery = fault cleared to the first of 5 consecutive 2xx;',
  'longest gap = longest time with no successful answer; unintended exits = processes that died without the scenario killing them.',
  '',
  markdownTable(header, tableRows),
  '',
  '## Details',
  '',
  details,
  '',
  `**${verdict}**`,
  '',
].join('\n');

writeFileSync(join(dir, 'report.md'), markdown);
writeFileSync(
  join(dir, 'report.json'),
  `${JSON.stringify(
    {
      kind: 'chaos',
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      full: full === '1',
      machine: { cpus: cpus().length, loadavg: loadavg() },
      vitest: { exitCode: run.status, numPassedTests: vitest.numPassedTests ?? null, numFailedTests: vitest.numFailedTests ?? null },
      passed,
      rows: rows.map((row) => ({ file: row.file, test: row.test, scenario: row.scenario, vitest: row.vitest, pass: row.pass, failure: row.failure || null })),
      results,
    },
    null,
    2,
  )}\n`,
);

console.log(`\n${markdownTable(header, tableRows)}\n`);
for (const row of failedRows) console.log(`FAIL ${row.scenario}: ${row.failure || row.result?.checks.filter((c) => !c.ok).map((c) => c.name).join('; ') || ''}`);
console.log(`\nreport: ${relative(ROOT, join(dir, 'report.md'))}\n        ${relative(ROOT, join(dir, 'report.json'))}`);
console.log(verdict);
process.exit(passed ? 0 : 1);
