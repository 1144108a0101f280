// Pure checks over the deployment files (Dockerfile, compose, Kubernetes, observability).
// Every check takes already-parsed input and returns a list of problems; [] means fine.
// Nothing here touches the file system or Docker: test/static/load.ts reads the files, and the
// tests run the same functions on mutated copies to prove each check can fail.

// Parsed YAML/JSON is untyped by nature; the checks below probe it defensively.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Doc = any;
export type Problems = string[];

// ---------------------------------------------------------------------------------------------
// Facts about the app (CONTRACT.md and the app's configuration schema)

/** `NODE_ENV=production` refuses to start without these (exit 78). */
export const REQUIRED_IN_PRODUCTION = ['DATABASE_URL', 'REDIS_URL', 'SESSION_SECRET', 'ADMIN_BOOTSTRAP_PASSWORD'];

/** Variables whose values are secrets: never literal in a committed file. */
export const SECRET_VARS = ['SESSION_SECRET', 'DATABASE_URL', 'REDIS_URL', 'ADMIN_BOOTSTRAP_PASSWORD', 'METRICS_TOKEN'];

/** Every variable the app reads. A name outside this list is a typo the app would ignore. */
export const KNOWN_ENV_VARS = [
  'NODE_ENV', 'HOST', 'PORT', 'LOG_LEVEL', 'DATA_DIR', 'BODY_LIMIT', 'TRUSTED_PROXIES',
  'DATABASE_URL', 'DB_POOL_SIZE', 'DB_POOL_MAX_OVERFLOW', 'DB_POOL_TIMEOUT_MS', 'DB_POOL_IDLE_TIMEOUT_MS',
  'DB_QUERY_TIMEOUT_MS', 'DB_CONNECT_TIMEOUT_MS', 'REDIS_URL', 'SESSION_SECRET', 'SESSION_IDLE_TIMEOUT_S',
  'SESSION_ABSOLUTE_TIMEOUT_S', 'CSRF_MODE', 'CSP_MODE', 'ADMIN_BOOTSTRAP_USERNAME', 'ADMIN_BOOTSTRAP_PASSWORD',
  'BREAKER_FAILURE_RATE', 'BREAKER_WINDOW_MS', 'BREAKER_MIN_VOLUME', 'BREAKER_OPEN_MS', 'SHUTDOWN_DRAIN_DELAY_MS',
  'SHUTDOWN_TIMEOUT_MS', 'HEALTH_DB_TIMEOUT_MS', 'HEALTH_CACHE_MS', 'REPORT_CACHE_REFRESH_MS', 'WORKERS',
  'WORKER_READY_TIMEOUT_MS', 'WATCHDOG_TIMEOUT_MS', 'RESTART_CHURN_WINDOW_S', 'RESTART_CHURN_MAX',
  'RESTART_COOLDOWN_S', 'METRICS_TOKEN',
];

/** Production defaults of the drain settings, used when a manifest does not set them. */
export const SHUTDOWN_DEFAULTS = { drainDelayMs: 5000, timeoutMs: 10000 };
/** Seconds of slack required on top of preStop + drain delay + drain timeout. */
export const GRACE_MARGIN_S = 5;

/** Metric names the app exposes (besides prom-client's default process metrics). */
export const APP_METRICS = [
  'http_request_duration_seconds', 'http_request_duration_seconds_bucket', 'http_request_duration_seconds_count',
  'http_request_duration_seconds_sum', 'rampart_db_pool_connections', 'rampart_db_pool_saturation',
  'rampart_breaker_state', 'rampart_breaker_transitions_total', 'rampart_worker_restarts_total',
  'rampart_restart_policy_state', 'rampart_rate_limit_rejections_total',
  // Admission control's (branch perf/overload); load.ts finds it in src once that is merged.
  'rampart_admission_shed_total',
];

/** Alert names the RUNBOOK refers to. */
export const ALERT_NAMES = ['HighErrorRate', 'HighLatencyP99', 'PoolSaturated', 'BreakerOpen', 'RestartChurnBlocked', 'InstanceDown'];

// ---------------------------------------------------------------------------------------------
// Small helpers

const isObj = (v: unknown): v is Record<string, Doc> => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): Doc[] => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]);
const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));

/** Why an image reference is not pinned, or null when it is (exact tag or digest, never latest). */
export function imagePinProblem(ref: string): string | null {
  if (!ref) return 'no image reference';
  if (/\$\{?[A-Za-z_]/.test(ref)) return `image "${ref}" depends on a variable`;
  if (/@sha256:[0-9a-f]{64}$/.test(ref)) return null;
  const last = ref.split('/').pop() ?? '';
  const colon = last.lastIndexOf(':');
  if (colon < 0) return `image "${ref}" has no tag (means latest)`;
  const tag = last.slice(colon + 1);
  if (!tag || tag.toLowerCase() === 'latest') return `image "${ref}" uses the latest tag`;
  // A bare major ("node:24", "postgres:18") is a moving tag as well.
  if (/^v?\d+$/.test(tag)) return `image "${ref}" tag "${tag}" is a moving major-version tag`;
  return null;
}

/** Splits a shell-ish argument string into words, honouring single and double quotes. */
export function shellWords(s: string): string[] {
  const out: string[] = [];
  const re = /(?:[^\s"']+|"(?:[^"\\]|\\.)*"|'[^']*')+/g;
  for (const m of s.matchAll(re)) out.push(m[0].replace(/"((?:[^"\\]|\\.)*)"|'([^']*)'/g, (_a, d, q) => (d ?? q ?? '').replace(/\\(.)/g, '$1')));
  return out;
}

/** Compose-style duration ("20s", "1m30s", "1500ms") in seconds; NaN if unparseable. */
export function durationSeconds(v: unknown): number {
  if (typeof v === 'number') return v;
  const s = str(v).trim();
  if (!s) return NaN;
  let total = 0;
  let rest = s;
  const re = /^(\d+(?:\.\d+)?)(ms|h|m|s|us|ns)/;
  while (rest) {
    const m = re.exec(rest);
    if (!m) return NaN;
    const n = Number(m[1]);
    total += m[2] === 'h' ? n * 3600 : m[2] === 'm' ? n * 60 : m[2] === 's' ? n : m[2] === 'ms' ? n / 1000 : 0;
    rest = rest.slice(m[0].length);
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Routes: CONTRACT.md health table and, when present, the Nest controllers

export interface HealthRoute { path: string; dependsOn: string; ok: string; unavailable: string }

/** Rows of the "## Health" table: | `GET /path` | depends on | 200 | 503 |. */
export function parseContractHealthTable(md: string): HealthRoute[] {
  const section = /^##\s+Health\b[^\n]*\n([\s\S]*?)(?=^##\s)/m.exec(md + '\n## end\n');
  if (!section) return [];
  const rows: HealthRoute[] = [];
  for (const line of section[1].split('\n')) {
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    const m = /^`GET\s+(\/[^`\s]*)`$/.exec(cells[0] ?? '');
    if (m) rows.push({ path: m[1], dependsOn: cells[1] ?? '', ok: cells[2] ?? '', unavailable: cells[3] ?? '' });
  }
  return rows;
}

/** Every `GET /path` the contract names anywhere. */
export function parseContractGetRoutes(md: string): Set<string> {
  return new Set([...md.matchAll(/`GET\s+(\/[^`\s?]*)/g)].map((m) => m[1]));
}

export interface ControllerRoutes { routes: string[]; unparseable: string[] }

/** GET routes declared with literal paths in Nest controller source; non-literal ones are listed. */
export function parseNestGetRoutes(source: string): ControllerRoutes {
  const routes: string[] = [];
  const unparseable: string[] = [];
  const literal = (a: string | undefined): string | null | undefined => {
    if (a === undefined || a.trim() === '') return '';
    const t = a.trim();
    const q = /^(['"`])([^'"`]*)\1$/.exec(t);
    if (q) return q[2];
    const p = /^\{[^}]*\bpath\s*:\s*(['"`])([^'"`]*)\1[^}]*\}$/.exec(t);
    if (p) return p[2];
    return null;
  };
  const join = (...parts: string[]) => '/' + parts.map((p) => p.replace(/^\/+|\/+$/g, '')).filter(Boolean).join('/');
  const segments = source.split(/(?=@Controller\s*\()/);
  for (const seg of segments) {
    const c = /^@Controller\s*\(([^)]*)\)/.exec(seg);
    if (!c) continue;
    const prefix = literal(c[1]);
    if (prefix === null || prefix === undefined) {
      unparseable.push(`@Controller(${c[1]})`);
      continue;
    }
    for (const g of seg.matchAll(/@Get\s*\(([^)]*)\)/g)) {
      const sub = literal(g[1]);
      if (sub === null || sub === undefined) unparseable.push(`@Get(${g[1]})`);
      else routes.push(join(prefix, sub));
    }
  }
  return { routes, unparseable };
}

export interface ProbeRoutes {
  /** Routes that depend on the process only: valid for liveness and startup probes. */
  liveness: Set<string>;
  /** Routes that turn 503 while draining: valid for readiness. */
  readiness: Set<string>;
  /** Every GET route known (contract and controllers). */
  all: Set<string>;
  /** Where the sets came from, for test output. */
  sources: string[];
}

const FALLBACK_HEALTH: HealthRoute[] = [
  { path: '/health/live', dependsOn: 'the process only', ok: '', unavailable: '' },
  { path: '/health/ready', dependsOn: 'health DB pool, Redis, not draining', ok: '', unavailable: 'draining' },
];

/**
 * Probe-eligible routes: from CONTRACT.md's health table (fallback: the two documented paths), and,
 * when controller source declares /health routes, only those the controllers really implement.
 */
export function deriveProbeRoutes(contractMd: string | null, controllerSources: string[]): ProbeRoutes {
  const sources: string[] = [];
  let rows = contractMd ? parseContractHealthTable(contractMd) : [];
  const all = contractMd ? parseContractGetRoutes(contractMd) : new Set<string>();
  if (rows.length > 0) sources.push('CONTRACT.md health table');
  else {
    rows = FALLBACK_HEALTH;
    sources.push('built-in fallback (CONTRACT.md not found)');
  }
  let liveness = new Set(rows.filter((r) => /process only/i.test(r.dependsOn)).map((r) => r.path));
  let readiness = new Set(rows.filter((r) => /draining/i.test(r.unavailable)).map((r) => r.path));
  for (const r of rows) all.add(r.path);

  const implemented = controllerSources.flatMap((s) => parseNestGetRoutes(s).routes);
  const implementedHealth = new Set(implemented.filter((r) => r === '/health' || r.startsWith('/health/')));
  if (implementedHealth.size > 0) {
    sources.push('health controller decorators');
    liveness = new Set([...liveness].filter((p) => implementedHealth.has(p)));
    readiness = new Set([...readiness].filter((p) => implementedHealth.has(p)));
  }
  for (const r of implemented) all.add(r);
  return { liveness, readiness, all, sources };
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

export interface Instruction { keyword: string; args: string; line: number }
export interface Stage { index: number; image: string; name?: string; instructions: Instruction[] }
export interface Dockerfile { preamble: Instruction[]; stages: Stage[] }

/**
 * Minimal Dockerfile parser: joins `\` continuations (comment and blank lines inside them are
 * dropped, as BuildKit does), splits into instructions and groups them per FROM stage.
 * Heredocs are not supported (this repository does not use them).
 */
export function parseDockerfile(text: string): Dockerfile {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const instructions: Instruction[] = [];
  let buf = '';
  let start = 0;
  const flush = () => {
    const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(buf);
    if (m) instructions.push({ keyword: m[1].toUpperCase(), args: m[2].replace(/\s+/g, ' ').trim(), line: start });
    buf = '';
  };
  lines.forEach((raw, i) => {
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    if (buf === '') start = i + 1;
    if (/\\\s*$/.test(raw)) {
      buf += raw.replace(/\\\s*$/, '') + ' ';
      return;
    }
    buf += raw;
    flush();
  });
  if (buf.trim()) flush();

  const df: Dockerfile = { preamble: [], stages: [] };
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const words = ins.args.split(' ').filter((w) => !w.startsWith('--'));
      const asAt = words.findIndex((w) => w.toUpperCase() === 'AS');
      df.stages.push({ index: df.stages.length, image: words[0] ?? '', name: asAt > 0 ? words[asAt + 1] : undefined, instructions: [] });
    } else if (df.stages.length === 0) df.preamble.push(ins);
    else df.stages[df.stages.length - 1].instructions.push(ins);
  }
  return df;
}

/** Exec-form (JSON array) arguments, or null for shell form. */
export function execForm(args: string): string[] | null {
  if (!args.trim().startsWith('[')) return null;
  try {
    const v: unknown = JSON.parse(args);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null;
  } catch {
    return null;
  }
}

/** KEY=value pairs of an ENV/ARG instruction (both `K=V K2=V2` and legacy `K value`). */
export function parseAssignments(args: string): Record<string, string> {
  const words = shellWords(args);
  const out: Record<string, string> = {};
  if (words.length > 0 && !words[0].includes('=')) {
    out[words[0]] = words.slice(1).join(' ');
    return out;
  }
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq > 0) out[w.slice(0, eq)] = w.slice(eq + 1);
    else out[w] = '';
  }
  return out;
}

const INSTALL_RE = /\b(?:npm\s+(?:ci|install|i|add)|yarn(?:\s+install)?|pnpm\s+(?:install|i|add))\b/;
const PROD_ONLY_RE = /--omit[= ]dev\b|--production\b|--only[= ]prod(?:uction)?\b|--prod\b/;
const PRUNE_PROD_RE = /\bnpm\s+prune\b[^&;|]*(?:--omit[= ]dev|--production)/;

/** True when a stage's node_modules can only hold production dependencies. */
function stageInstallsProdOnly(stage: Stage): boolean {
  let prodOnly = true;
  for (const ins of stage.instructions) {
    if (ins.keyword !== 'RUN') continue;
    for (const cmd of ins.args.split(/&&|;|\|\|/)) {
      if (PRUNE_PROD_RE.test(cmd)) prodOnly = true;
      else if (INSTALL_RE.test(cmd)) prodOnly = PROD_ONLY_RE.test(cmd);
    }
  }
  return prodOnly;
}

export interface DockerfileContext { livenessPaths: Set<string>; port?: number }

export function checkDockerfile(df: Dockerfile, ctx: DockerfileContext): Problems {
  const p: Problems = [];
  const port = ctx.port ?? 3000;
  if (df.stages.length === 0) return ['Dockerfile: no FROM stage'];
  const stageNames = new Set(df.stages.map((s) => s.name).filter((n): n is string => !!n));
  for (const s of df.stages) {
    if (stageNames.has(s.image) || s.image === 'scratch') continue;
    const why = imagePinProblem(s.image);
    if (why) p.push(`Dockerfile stage ${s.name ?? s.index}: ${why}`);
  }
  const final = df.stages[df.stages.length - 1];
  const label = `Dockerfile final stage (${final.name ?? final.index})`;
  const byName = (n: string) => df.stages.find((s) => s.name === n || String(s.index) === n);

  // Base image: exact Node 24 (resolving FROM <earlier stage>).
  let base: Stage | undefined = final;
  const seen = new Set<Stage>();
  while (base && stageNames.has(base.image) && !seen.has(base)) {
    seen.add(base);
    base = byName(base.image);
  }
  if (!base || !/^(?:[\w.-]+\/)*node:24\.\d+\.\d+(?:-[\w.-]+)?$/.test(base.image)) {
    p.push(`${label}: must be FROM node:24.x.y (exact Node 24 version), found "${base?.image ?? final.image}"`);
  }

  const ins = (k: string) => final.instructions.filter((i) => i.keyword === k);

  // Non-root user.
  const users = ins('USER');
  if (users.length === 0) p.push(`${label}: no USER instruction (would run as root)`);
  else {
    const u = users[users.length - 1].args.split(':')[0].trim();
    if (u === 'root' || u === '0' || u === '') p.push(`${label}: USER ${users[users.length - 1].args} is root`);
  }

  // Production dependencies only.
  for (const r of ins('RUN')) {
    for (const cmd of r.args.split(/&&|;|\|\|/)) {
      if (INSTALL_RE.test(cmd) && !PROD_ONLY_RE.test(cmd)) {
        p.push(`${label} line ${r.line}: "${cmd.trim()}" installs dev dependencies (use --omit=dev)`);
      }
    }
  }
  for (const c of [...ins('COPY'), ...ins('ADD')]) {
    const from = /--from=(\S+)/.exec(c.args)?.[1];
    if (!from) continue;
    const src = byName(from);
    if (!src) continue;
    const paths = c.args.split(' ').filter((w) => !w.startsWith('--'));
    const sources = paths.slice(0, -1);
    const workdir = src.instructions.filter((i) => i.keyword === 'WORKDIR').map((i) => i.args).pop() ?? '/';
    const bringsModules = sources.some((s) => /node_modules/.test(s) || ['.', './', '/', workdir, workdir + '/'].includes(s));
    if (bringsModules && !stageInstallsProdOnly(src)) {
      p.push(`${label} line ${c.line}: copies node_modules from stage "${from}", which installs dev dependencies`);
    }
  }

  // Liveness healthcheck.
  const hcs = ins('HEALTHCHECK');
  const hc = hcs[hcs.length - 1];
  if (!hc) p.push(`${label}: no HEALTHCHECK`);
  else if (/^NONE\b/i.test(hc.args)) p.push(`${label}: HEALTHCHECK NONE`);
  else if (![...ctx.livenessPaths].some((path) => new RegExp(`${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(?![\\w/-])`).test(hc.args))) {
    p.push(`${label}: HEALTHCHECK does not request a liveness route (${[...ctx.livenessPaths].join(', ')})`);
  }

  // Environment baked into the image.
  const envOf = (s: Stage | undefined, guard = new Set<Stage>()): Record<string, string> => {
    if (!s || guard.has(s)) return {};
    guard.add(s);
    const inherited = stageNames.has(s.image) ? envOf(byName(s.image), guard) : {};
    return Object.assign(inherited, ...s.instructions.filter((i) => i.keyword === 'ENV').map((i) => parseAssignments(i.args)));
  };
  const env = envOf(final);
  const want: Record<string, string> = { NODE_ENV: 'production', HOST: '0.0.0.0', PORT: String(port) };
  for (const [k, v] of Object.entries(want)) {
    if (env[k] !== v) p.push(`${label}: ENV ${k} must be ${v} (found ${env[k] ?? 'unset'})`);
  }
  const exposed = ins('EXPOSE').flatMap((i) => i.args.split(' ')).map((x) => x.split('/')[0]);
  if (!exposed.includes(String(port))) p.push(`${label}: EXPOSE ${port} missing`);

  // No secrets in any stage.
  for (const s of df.stages) {
    for (const i of s.instructions) {
      if (i.keyword === 'ENV' || i.keyword === 'ARG') {
        for (const k of Object.keys(parseAssignments(i.args))) {
          if (SECRET_VARS.includes(k) || /SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE_KEY|API_KEY/i.test(k)) {
            p.push(`Dockerfile line ${i.line}: ${i.keyword} ${k} bakes a secret into the image`);
          }
        }
      }
      if ((i.keyword === 'COPY' || i.keyword === 'ADD') && /(^|[\s/])\.env(\.[\w-]+)?(\s|$)/.test(i.args) && !/\.env\.example/.test(i.args)) {
        p.push(`Dockerfile line ${i.line}: copies a .env file into the image`);
      }
    }
  }

  // PID 1: exec form, an init that reaps cluster workers, the compiled entry point.
  const entry = ins('ENTRYPOINT').pop();
  const cmd = ins('CMD').pop();
  const entryArgs = entry ? execForm(entry.args) : [];
  const cmdArgs = cmd ? execForm(cmd.args) : null;
  if (entry && !entryArgs) p.push(`${label}: ENTRYPOINT in shell form (sh becomes PID 1 and swallows SIGTERM)`);
  if (!cmdArgs) p.push(`${label}: CMD missing or in shell form (sh becomes PID 1 and swallows SIGTERM)`);
  if (!entryArgs || !/(^|\/)(tini|dumb-init)$/.test(entryArgs[0] ?? '')) {
    p.push(`${label}: ENTRYPOINT is not an init (tini) to forward signals and reap cluster workers`);
  } else if (/tini$/.test(entryArgs[0]) && !ins('RUN').some((r) => /apt-get install[^&;]*\btini\b/.test(r.args))) {
    p.push(`${label}: ENTRYPOINT uses tini but no RUN installs it`);
  }
  const full = [...(entryArgs ?? []), ...(cmdArgs ?? [])].join(' ');
  if (!/\bnode\s+dist\/src\/main\.js\b/.test(full)) p.push(`${label}: does not run "node dist/src/main.js"`);
  const stop = ins('STOPSIGNAL').pop();
  if (!stop || stop.args.trim() !== 'SIGTERM') p.push(`${label}: STOPSIGNAL SIGTERM missing`);
  return p;
}

/** .dockerignore must keep dependencies, build output, local data, VCS and secrets out of the context. */
export function checkDockerignore(text: string): Problems {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const norm = (l: string) => l.replace(/^(\*\*\/|\/)/, '').replace(/\/$/, '');
  const patterns = new Set(lines.filter((l) => !l.startsWith('!')).map(norm));
  const negated = new Set(lines.filter((l) => l.startsWith('!')).map((l) => norm(l.slice(1))));
  const p: Problems = [];
  for (const need of ['node_modules', 'dist', '.git', '.env', '.data']) {
    if (!patterns.has(need)) p.push(`.dockerignore: "${need}" not excluded`);
    if (negated.has(need)) p.push(`.dockerignore: "${need}" re-included with !`);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

/** A compose service's environment as a map (mapping or KEY=VALUE list; bare KEY -> undefined). */
export function composeEnv(service: Doc): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  const env = service?.environment;
  if (Array.isArray(env)) {
    for (const e of env) {
      const s = str(e);
      const eq = s.indexOf('=');
      if (eq < 0) out.set(s, undefined);
      else out.set(s.slice(0, eq), s.slice(eq + 1));
    }
  } else if (isObj(env)) {
    for (const [k, v] of Object.entries(env)) out.set(k, v === null || v === undefined ? undefined : String(v));
  }
  return out;
}

/** Interpolation that makes compose fail when the variable is unset or empty. */
const REQUIRED_INTERPOLATION = /\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]*\}/;

/** Host part of a URL-ish env value, with ${...} interpolations blanked out. */
function urlHost(v: string): string | null {
  const cleaned = v.replace(/\$\{[^}]*\}/g, 'x');
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/]*@)?([^:/?#]+)/i.exec(cleaned);
  return m ? m[1] : null;
}

export interface ComposeContext {
  livenessPaths: Set<string>;
  /** Variables the app reads (defaults to KNOWN_ENV_VARS). */
  knownEnv?: Set<string>;
  appService?: string;
}

export function checkCompose(compose: Doc, ctx: ComposeContext): Problems {
  const p: Problems = [];
  const services: Record<string, Doc> = isObj(compose?.services) ? compose.services : {};
  const name = ctx.appService ?? 'app';
  const app = services[name];
  if (!isObj(app)) return [`compose: no "${name}" service`];
  const label = `compose ${name}`;

  // Hardening.
  if (app.read_only !== true) p.push(`${label}: read_only is not true`);
  const tmpfs = arr(app.tmpfs).map(str);
  const tmpVolume = arr(app.volumes).some((v) => isObj(v) && v.type === 'tmpfs' && v.target === '/tmp');
  if (!tmpfs.some((t) => /^\/tmp(?::|$)/.test(t)) && !tmpVolume) p.push(`${label}: no tmpfs on /tmp`);
  if (!arr(app.cap_drop).map(str).includes('ALL')) p.push(`${label}: cap_drop does not include ALL`);
  if (arr(app.cap_add).length > 0) p.push(`${label}: cap_add adds capabilities`);
  if (app.privileged === true) p.push(`${label}: privileged`);
  if (!arr(app.security_opt).map(str).some((s) => /^no-new-privileges(?:[:=]true)?$/.test(s))) {
    p.push(`${label}: security_opt lacks no-new-privileges:true`);
  }
  if (app.user !== undefined && /^(root|0)(:|$)/.test(str(app.user))) p.push(`${label}: user is root`);

  // Healthcheck on liveness.
  const hc = app.healthcheck;
  if (!isObj(hc) || hc.disable === true) p.push(`${label}: no healthcheck`);
  else {
    const test = arr(hc.test).map(str).join(' ');
    if (![...ctx.livenessPaths].some((path) => test.includes(path))) p.push(`${label}: healthcheck does not request a liveness route`);
  }

  // Environment: required variables present, secrets interpolated (never literal), names known.
  const env = composeEnv(app);
  if (env.get('NODE_ENV') !== 'production') p.push(`${label}: NODE_ENV is not production`);
  for (const k of REQUIRED_IN_PRODUCTION) {
    const v = env.get(k);
    if (v === undefined || v.trim() === '') p.push(`${label}: required variable ${k} not provided`);
  }
  for (const k of SECRET_VARS) {
    const v = env.get(k);
    if (v !== undefined && !REQUIRED_INTERPOLATION.test(v)) {
      p.push(`${label}: ${k} is a literal; take it from the environment with \${VAR:?message}`);
    }
  }
  const known = ctx.knownEnv ?? new Set(KNOWN_ENV_VARS);
  for (const k of env.keys()) if (!known.has(k)) p.push(`${label}: unknown variable ${k}`);
  if (/^(true|1|yes)$/i.test(env.get('ENABLE_TEST_HOOKS') ?? '')) p.push(`${label}: ENABLE_TEST_HOOKS enabled`);
  // The operator's tuning comes from the same .env as the secrets (`cp .env.example .env`);
  // any other file would be a second place to look for what the app gets.
  if (app.env_file !== undefined && JSON.stringify(arr(app.env_file).map((f) => (isObj(f) ? str(f.path) : str(f)))) !== '[".env"]') {
    p.push(`${label}: env_file must be exactly .env (the file .env.example documents)`);
  }

  // Dependencies: the DB and Redis hosts must be healthy before the app starts.
  const deps = app.depends_on;
  const depCondition = (svc: string): string | undefined =>
    Array.isArray(deps) ? (deps.includes(svc) ? 'service_started' : undefined) : isObj(deps) && isObj(deps[svc]) ? str(deps[svc].condition) : isObj(deps) && svc in deps ? 'service_started' : undefined;
  for (const k of ['DATABASE_URL', 'REDIS_URL']) {
    const host = urlHost(env.get(k) ?? '');
    if (!host || !(host in services)) {
      p.push(`${label}: ${k} does not point at a compose service (host ${host ?? 'unparseable'})`);
      continue;
    }
    if (depCondition(host) !== 'service_healthy') p.push(`${label}: depends_on ${host} lacks condition service_healthy`);
    if (!isObj(services[host].healthcheck)) p.push(`compose ${host}: no healthcheck (service_healthy would never pass)`);
  }

  // Shutdown: the app's drain must fit before compose sends SIGKILL.
  const drain = Number(env.get('SHUTDOWN_DRAIN_DELAY_MS') ?? SHUTDOWN_DEFAULTS.drainDelayMs) / 1000;
  const timeout = Number(env.get('SHUTDOWN_TIMEOUT_MS') ?? SHUTDOWN_DEFAULTS.timeoutMs) / 1000;
  const grace = app.stop_grace_period === undefined ? 10 : durationSeconds(app.stop_grace_period);
  if (!(grace >= drain + timeout + GRACE_MARGIN_S)) {
    p.push(`${label}: stop_grace_period ${grace}s < drain ${drain}s + timeout ${timeout}s + ${GRACE_MARGIN_S}s margin`);
  }
  if (app.stop_signal !== undefined && str(app.stop_signal) !== 'SIGTERM') p.push(`${label}: stop_signal is not SIGTERM`);

  // Pinned images everywhere.
  for (const [svcName, svc] of Object.entries(services)) {
    if (!isObj(svc)) continue;
    if (svc.image === undefined) {
      if (svc.build === undefined) p.push(`compose ${svcName}: neither image nor build`);
      continue;
    }
    const why = imagePinProblem(str(svc.image));
    if (why) p.push(`compose ${svcName}: ${why}`);
  }
  return p;
}

/**
 * /metrics is served only to loopback/TRUSTED_PROXIES peers or with `Bearer $METRICS_TOKEN`.
 * Prometheus scrapes the app from another container, so it must send the token that the app
 * also gets, read from a compose secret it mounts (or the app must trust its address).
 */
export function checkMetricsAccess(compose: Doc, prom: Doc, appService = 'app'): Problems {
  const p: Problems = [];
  const services: Record<string, Doc> = isObj(compose?.services) ? compose.services : {};
  const app = services[appService];
  const env = composeEnv(app);
  const port = env.get('PORT') ?? '3000';
  const target = `${appService}:${port}`;
  const jobs = arr(prom?.scrape_configs).filter((j) => arr(j?.static_configs).some((sc) => arr(sc?.targets).map(str).includes(target)));
  if (jobs.length === 0) return [`prometheus: no scrape job targets ${target}`];
  const promSvc = Object.entries(services).find(([, s]) => isObj(s) && /(^|\/)prometheus:/.test(str(s.image)));
  for (const job of jobs) {
    const label = `prometheus job ${str(job.job_name)}`;
    const path = job.metrics_path === undefined ? '/metrics' : str(job.metrics_path);
    if (path !== '/metrics') p.push(`${label}: metrics_path ${path} is not /metrics`);
    if (str(job.job_name) !== 'rampart') p.push(`${label}: alerts and dashboard select job="rampart"`);
    const auth = isObj(job.authorization) ? job.authorization : undefined;
    const credFile = auth?.credentials_file ?? job.bearer_token_file;
    const hasAuth = Boolean(credFile || auth?.credentials || job.bearer_token);
    if (auth?.credentials || job.bearer_token) p.push(`${label}: bearer token written literally in prometheus.yml`);
    if (!hasAuth) {
      if (!env.get('TRUSTED_PROXIES')) p.push(`${label}: no bearer token and the app does not trust the scraper (would get 403/401)`);
      continue;
    }
    if (auth && auth.type !== undefined && str(auth.type) !== 'Bearer') p.push(`${label}: authorization type is not Bearer`);
    if (!env.get('METRICS_TOKEN')) p.push(`${label}: sends a bearer token but the app has no METRICS_TOKEN`);
    const secretName = /^\/run\/secrets\/([^/]+)$/.exec(str(credFile))?.[1];
    if (credFile && !secretName) p.push(`${label}: credentials_file is not a compose secret under /run/secrets`);
    if (secretName) {
      const granted = promSvc ? arr(promSvc[1].secrets).map((s) => (isObj(s) ? str(s.source) : str(s))) : [];
      if (!granted.includes(secretName)) p.push(`compose prometheus: secret ${secretName} not granted`);
      const def = compose?.secrets?.[secretName];
      if (!isObj(def)) p.push(`compose: secret ${secretName} not defined`);
      else if (def.environment !== undefined && str(def.environment) !== 'METRICS_TOKEN') {
        p.push(`compose: secret ${secretName} comes from ${str(def.environment)}, not METRICS_TOKEN`);
      }
    }
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Kubernetes (kustomize)

export interface K8sBundle {
  kustomization: Doc;
  /** Objects from the files listed in kustomization resources. */
  objects: Doc[];
  /** Every YAML file name in the directory. */
  files: string[];
}

/** PostgreSQL connections Rampart may use: default max_connections 100 less 3 reserved for superusers. */
export const PG_CONNECTION_BUDGET = 97;
/** Connections per process besides the main pool: health pool (max 2), realtime listener, migration run. */
export const PG_EXTRA_CONNECTIONS_PER_PROCESS = 2 + 1 + 1;

export interface K8sContext {
  routes: ProbeRoutes;
  /** PostgreSQL connections all replicas together may open (default PG_CONNECTION_BUDGET). */
  pgConnectionBudget?: number;
  /** Variables the app reads (defaults to KNOWN_ENV_VARS). */
  knownEnv?: Set<string>;
}

type EnvSource = { kind: 'value' | 'secretKeyRef' | 'configMap' | 'configMapKeyRef' | 'other'; value?: string };

function generatedConfigMaps(k: Doc): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const g of arr(k?.configMapGenerator)) {
    const data: Record<string, string> = {};
    for (const lit of arr(g?.literals).map(str)) {
      const eq = lit.indexOf('=');
      if (eq > 0) data[lit.slice(0, eq)] = lit.slice(eq + 1);
    }
    out.set(str(g?.name), data);
  }
  return out;
}

/** Resolves a container's environment (envFrom config maps, then env entries). */
export function containerEnv(container: Doc, configMaps: Map<string, Record<string, string>>): { env: Map<string, EnvSource>; problems: Problems } {
  const env = new Map<string, EnvSource>();
  const problems: Problems = [];
  for (const ef of arr(container?.envFrom)) {
    if (isObj(ef?.configMapRef)) {
      const cm = configMaps.get(str(ef.configMapRef.name));
      if (!cm) problems.push(`envFrom config map ${str(ef.configMapRef.name)} is not defined in the kustomization`);
      else for (const [k, v] of Object.entries(cm)) env.set(k, { kind: 'configMap', value: v });
    }
    if (isObj(ef?.secretRef)) problems.push(`envFrom secretRef ${str(ef.secretRef.name)}: reference each secret with secretKeyRef instead`);
  }
  for (const e of arr(container?.env)) {
    const name = str(e?.name);
    if (e?.valueFrom?.secretKeyRef) env.set(name, { kind: 'secretKeyRef' });
    else if (e?.valueFrom?.configMapKeyRef) env.set(name, { kind: 'configMapKeyRef' });
    else if (e?.valueFrom) env.set(name, { kind: 'other' });
    else env.set(name, { kind: 'value', value: str(e?.value) });
  }
  return { env, problems };
}

/** Seconds the preStop hook holds the container before SIGTERM (sleep action or exec sleep). */
export function preStopSeconds(lifecycle: Doc): number {
  const ps = lifecycle?.preStop;
  if (!isObj(ps)) return 0;
  if (isObj(ps.sleep)) return Number(ps.sleep.seconds) || 0;
  const cmd = arr(ps.exec?.command).map(str).join(' ');
  const m = /\bsleep\s+(\d+(?:\.\d+)?)/.exec(cmd);
  return m ? Number(m[1]) : 0;
}

const labelsMatch = (selector: Doc, labels: Doc): boolean =>
  isObj(selector) && Object.keys(selector).length > 0 && isObj(labels) && Object.entries(selector).every(([k, v]) => labels[k] === v);

export function checkKubernetes(bundle: K8sBundle, ctx: K8sContext): Problems {
  const p: Problems = [];
  const k = bundle.kustomization;
  const resources = arr(k?.resources).map(str);
  for (const r of resources) if (!bundle.files.includes(r)) p.push(`kustomization: resource ${r} does not exist`);
  for (const r of resources) if (/secret/i.test(r) && /example/i.test(r)) p.push(`kustomization: ${r} (example secret) must not be deployed`);
  for (const o of bundle.objects) {
    if (o?.kind === 'Secret' && (o.data !== undefined || o.stringData !== undefined)) {
      p.push(`k8s Secret ${str(o.metadata?.name)}: secret values committed in a deployed manifest`);
    }
  }
  for (const img of arr(k?.images)) {
    if (img?.newTag !== undefined && imagePinProblem(`${str(img.name)}:${str(img.newTag)}`)) p.push(`kustomization: image ${str(img.name)} newTag ${str(img.newTag)} not pinned`);
  }
  const configMaps = generatedConfigMaps(k);
  for (const o of bundle.objects) if (o?.kind === 'ConfigMap') configMaps.set(str(o.metadata?.name), Object.fromEntries(Object.entries(o.data ?? {}).map(([a, b]) => [a, str(b)])));
  for (const [name, data] of configMaps) {
    for (const key of Object.keys(data)) {
      if (SECRET_VARS.includes(key)) p.push(`k8s ConfigMap ${name}: ${key} is a secret (use a Secret + secretKeyRef)`);
    }
  }

  const deployments = bundle.objects.filter((o) => o?.kind === 'Deployment');
  if (deployments.length === 0) return [...p, 'k8s: no Deployment'];
  for (const d of deployments) {
    const dn = `k8s Deployment ${str(d.metadata?.name)}`;
    const spec = d.spec ?? {};
    const pod = spec.template?.spec ?? {};
    const podLabels = spec.template?.metadata?.labels ?? {};
    if (!(Number(spec.replicas) >= 2)) p.push(`${dn}: replicas ${str(spec.replicas) || 'unset'} < 2`);
    if (!labelsMatch(spec.selector?.matchLabels, podLabels)) p.push(`${dn}: selector does not match the pod labels`);

    // Pod security context (restricted profile).
    const psc = pod.securityContext ?? {};
    if (pod.hostNetwork === true || pod.hostPID === true || pod.hostIPC === true) p.push(`${dn}: uses host namespaces`);
    if (pod.automountServiceAccountToken !== false) p.push(`${dn}: automountServiceAccountToken is not false`);

    const containers = [...arr(pod.containers), ...arr(pod.initContainers)];
    if (containers.length === 0) p.push(`${dn}: no containers`);
    for (const c of containers) {
      const cn = `${dn} container ${str(c?.name)}`;
      const csc = c?.securityContext ?? {};
      const eff = (key: string) => (csc[key] !== undefined ? csc[key] : psc[key]);
      if (eff('runAsNonRoot') !== true) p.push(`${cn}: runAsNonRoot is not true`);
      const uid = eff('runAsUser');
      if (uid === undefined || Number(uid) === 0) p.push(`${cn}: runAsUser must be set and non-zero (1000)`);
      if (eff('seccompProfile')?.type !== 'RuntimeDefault' && eff('seccompProfile')?.type !== 'Localhost') p.push(`${cn}: seccompProfile is not RuntimeDefault`);
      if (csc.allowPrivilegeEscalation !== false) p.push(`${cn}: allowPrivilegeEscalation is not false`);
      if (csc.readOnlyRootFilesystem !== true) p.push(`${cn}: readOnlyRootFilesystem is not true`);
      if (csc.privileged === true) p.push(`${cn}: privileged`);
      if (!arr(csc.capabilities?.drop).map(str).includes('ALL')) p.push(`${cn}: capabilities.drop does not include ALL`);
      if (arr(csc.capabilities?.add).length > 0) p.push(`${cn}: capabilities.add is not empty`);
      const image = str(c?.image);
      const why = imagePinProblem(image);
      if (why) p.push(`${cn}: ${why}`);
      const res = c?.resources ?? {};
      for (const kind of ['requests', 'limits']) for (const r of ['cpu', 'memory']) {
        if (res[kind]?.[r] === undefined && !(kind === 'limits' && r === 'cpu')) p.push(`${cn}: resources.${kind}.${r} missing`);
      }
      // Writable /tmp on a read-only root.
      const tmp = arr(c?.volumeMounts).find((m) => m?.mountPath === '/tmp');
      const tmpVol = tmp && arr(pod.volumes).find((v) => v?.name === tmp.name);
      if (!tmp || !tmpVol || !isObj(tmpVol.emptyDir)) p.push(`${cn}: no emptyDir mounted at /tmp`);
    }

    const app = arr(pod.containers)[0];
    if (!app) continue;
    const an = `${dn} container ${str(app.name)}`;
    const { env, problems } = containerEnv(app, configMaps);
    p.push(...problems.map((x) => `${an}: ${x}`));
    const port = Number(env.get('PORT')?.value ?? 3000);
    const ports = arr(app.ports);
    const portByName = (v: unknown): number | undefined =>
      typeof v === 'number' ? v : /^\d+$/.test(str(v)) ? Number(v) : ports.find((x) => x?.name === v)?.containerPort;
    if (!ports.some((x) => Number(x?.containerPort) === port)) p.push(`${an}: no containerPort ${port} (PORT)`);

    // Probes on real routes of the right kind.
    const probe = (key: string, allowed: Set<string>, what: string) => {
      const pr = app[key];
      if (!isObj(pr)) return p.push(`${an}: ${key} missing`);
      const hg = pr.httpGet;
      if (!isObj(hg)) return p.push(`${an}: ${key} is not an httpGet probe`);
      if (!allowed.has(str(hg.path))) p.push(`${an}: ${key} path ${str(hg.path)} is not a ${what} route (${[...allowed].join(', ') || 'none known'})`);
      if (portByName(hg.port) !== port) p.push(`${an}: ${key} port ${str(hg.port)} is not the app port ${port}`);
      return undefined;
    };
    probe('startupProbe', ctx.routes.liveness, 'liveness');
    probe('livenessProbe', ctx.routes.liveness, 'liveness');
    probe('readinessProbe', ctx.routes.readiness, 'readiness');

    // Graceful shutdown budget.
    const drainMs = Number(env.get('SHUTDOWN_DRAIN_DELAY_MS')?.value ?? SHUTDOWN_DEFAULTS.drainDelayMs);
    const timeoutMs = Number(env.get('SHUTDOWN_TIMEOUT_MS')?.value ?? SHUTDOWN_DEFAULTS.timeoutMs);
    const preStop = preStopSeconds(app.lifecycle);
    const grace = pod.terminationGracePeriodSeconds === undefined ? 30 : Number(pod.terminationGracePeriodSeconds);
    const needed = preStop + drainMs / 1000 + timeoutMs / 1000 + GRACE_MARGIN_S;
    if (preStop <= 0) p.push(`${an}: no preStop sleep (traffic may still arrive after SIGTERM)`);
    if (!(grace >= needed)) {
      p.push(`${dn}: terminationGracePeriodSeconds ${grace} < preStop ${preStop} + drain ${drainMs / 1000} + timeout ${timeoutMs / 1000} + margin ${GRACE_MARGIN_S} = ${needed}`);
    }

    // Environment.
    for (const v of REQUIRED_IN_PRODUCTION) if (!env.has(v)) p.push(`${an}: required variable ${v} not provided`);
    for (const v of SECRET_VARS) {
      const src = env.get(v);
      if (src && src.kind !== 'secretKeyRef') p.push(`${an}: ${v} is a secret but comes from ${src.kind}, not secretKeyRef`);
    }
    const known = ctx.knownEnv ?? new Set(KNOWN_ENV_VARS);
    for (const name of env.keys()) if (!known.has(name)) p.push(`${an}: unknown variable ${name}`);
    if (/^(true|1|yes)$/i.test(env.get('ENABLE_TEST_HOOKS')?.value ?? '')) p.push(`${an}: ENABLE_TEST_HOOKS enabled`);
    if (env.get('NODE_ENV')?.value !== 'production') p.push(`${an}: NODE_ENV is not production`);
    if (env.get('WORKERS')?.value !== '1') p.push(`${an}: WORKERS must be 1 (one process per pod; scale with replicas)`);

    // Companion objects.
    const name = str(d.metadata?.name);
    const svc = bundle.objects.find((o) => o?.kind === 'Service' && labelsMatch(o.spec?.selector, podLabels));
    if (!svc) p.push(`k8s: no Service selects the ${name} pods`);
    else if (!arr(svc.spec?.ports).some((sp) => portByName(sp?.targetPort ?? sp?.port) === port)) p.push(`k8s Service ${str(svc.metadata?.name)}: no port targets ${port}`);
    const pdb = bundle.objects.find((o) => o?.kind === 'PodDisruptionBudget' && labelsMatch(o.spec?.selector?.matchLabels, podLabels));
    if (!pdb) p.push(`k8s: no PodDisruptionBudget selects the ${name} pods`);
    else if (pdb.spec?.minAvailable === undefined && pdb.spec?.maxUnavailable === undefined) p.push(`k8s PodDisruptionBudget: neither minAvailable nor maxUnavailable`);
    const hpa = bundle.objects.find((o) => o?.kind === 'HorizontalPodAutoscaler' && o.spec?.scaleTargetRef?.name === name);
    if (!hpa) p.push(`k8s: no HorizontalPodAutoscaler targets ${name}`);
    else {
      if (hpa.apiVersion !== 'autoscaling/v2') p.push(`k8s HPA: apiVersion ${str(hpa.apiVersion)} is not autoscaling/v2`);
      if (!(Number(hpa.spec?.minReplicas) >= 2)) p.push('k8s HPA: minReplicas < 2');
      if (!(Number(hpa.spec?.maxReplicas) >= Number(hpa.spec?.minReplicas))) p.push('k8s HPA: maxReplicas < minReplicas');
      // Every replica, plus the surge pod of a rollout, opens its pools against the same PostgreSQL.
      const surge = Number(spec.strategy?.rollingUpdate?.maxSurge ?? 1);
      const perPod = Number(env.get('DB_POOL_SIZE')?.value ?? 10) + Number(env.get('DB_POOL_MAX_OVERFLOW')?.value ?? 5) + PG_EXTRA_CONNECTIONS_PER_PROCESS;
      const budget = ctx.pgConnectionBudget ?? PG_CONNECTION_BUDGET;
      const peak = (Number(hpa.spec?.maxReplicas) + (Number.isFinite(surge) ? surge : 1)) * perPod;
      if (!(peak <= budget)) p.push(`k8s HPA: (maxReplicas + maxSurge) x ${perPod} connections = ${peak} > PostgreSQL budget ${budget}`);
    }
    const np = bundle.objects.find((o) => o?.kind === 'NetworkPolicy' && labelsMatch(o.spec?.podSelector?.matchLabels, podLabels));
    if (!np) p.push(`k8s: no NetworkPolicy selects the ${name} pods`);
    else {
      const types = arr(np.spec?.policyTypes).map(str);
      if (!types.includes('Ingress') || !types.includes('Egress')) p.push('k8s NetworkPolicy: policyTypes must include Ingress and Egress');
      const ingressPorts = arr(np.spec?.ingress).flatMap((r) => arr(r?.ports)).map((x) => portByName(x?.port));
      if (!ingressPorts.includes(port)) p.push(`k8s NetworkPolicy: ingress does not admit port ${port}`);
      if (arr(np.spec?.ingress).some((r) => arr(r?.from).length === 0)) p.push('k8s NetworkPolicy: an ingress rule admits every source');
      const egress = arr(np.spec?.egress).flatMap((r) => arr(r?.ports)).map((x) => `${str(x?.protocol || 'TCP')}/${str(x?.port)}`);
      for (const need of ['TCP/5432', 'TCP/6379', 'UDP/53']) if (!egress.includes(need)) p.push(`k8s NetworkPolicy: egress does not allow ${need}`);
      if (arr(np.spec?.egress).some((r) => arr(r?.ports).length === 0)) p.push('k8s NetworkPolicy: an egress rule allows every port');
    }
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Observability: alerts, dashboard, Alloy, Loki, Grafana provisioning

/** Metric-like identifiers in a PromQL expression that belong to the app's namespaces. */
export function metricNames(expr: string): string[] {
  return [...new Set([...expr.matchAll(/\b((?:rampart|http_request|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1]))];
}

export function checkAlerts(rules: Doc, knownMetrics: Set<string>): Problems {
  const p: Problems = [];
  const all = arr(rules?.groups).flatMap((g) => arr(g?.rules)).filter((r) => r?.alert !== undefined);
  const names = all.map((r) => str(r.alert));
  for (const n of ALERT_NAMES) if (!names.includes(n)) p.push(`alerts: ${n} missing`);
  const dup = names.filter((n, i) => names.indexOf(n) !== i);
  for (const n of new Set(dup)) p.push(`alerts: ${n} defined twice`);
  for (const r of all) {
    const an = `alert ${str(r.alert)}`;
    if (!['critical', 'warning', 'info'].includes(str(r.labels?.severity))) p.push(`${an}: severity label missing or not critical|warning|info`);
    const expr = str(r.expr).trim();
    if (!expr) p.push(`${an}: empty expr`);
    if (!/\bjob="rampart"/.test(expr)) p.push(`${an}: expr does not select job="rampart"`);
    if (!metricNames(expr).length && !/\bup\{/.test(expr)) p.push(`${an}: expr references no Rampart metric`);
    for (const m of metricNames(expr)) if (!knownMetrics.has(m)) p.push(`${an}: unknown metric ${m}`);
    if (!str(r.annotations?.summary)) p.push(`${an}: no summary annotation`);
    if (!str(r.annotations?.runbook_url)) p.push(`${an}: no runbook_url annotation`);
  }
  return p;
}

/** Panels including those nested in collapsed rows. */
function flattenPanels(panels: Doc): Doc[] {
  return arr(panels).flatMap((pn) => [pn, ...flattenPanels(pn?.panels)]);
}

export function checkDashboard(dash: Doc, datasourceUids: Set<string>, knownMetrics: Set<string>): Problems {
  const p: Problems = [];
  const panels = flattenPanels(dash?.panels).filter((pn) => pn?.type !== 'row');
  const promExprs = panels.flatMap((pn) => arr(pn?.targets).filter((t) => (t?.datasource?.type ?? pn?.datasource?.type) === 'prometheus').map((t) => str(t?.expr)));
  const any = (re: RegExp) => promExprs.some((e) => re.test(e));
  if (!any(/rate\(\s*http_request_duration_seconds_count/)) p.push('dashboard: no request-rate panel (rate of http_request_duration_seconds_count)');
  if (!any(/http_request_duration_seconds_count\{[^}]*status_code=~"5/)) p.push('dashboard: no 5xx error-rate panel');
  for (const q of ['0.5', '0.95', '0.99']) {
    if (!any(new RegExp(`histogram_quantile\\(\\s*${q.replace('.', '\\.')}\\s*,[\\s\\S]*http_request_duration_seconds_bucket`))) p.push(`dashboard: no p${Number(q) * 100} latency query`);
  }
  for (const m of ['rampart_db_pool_saturation', 'rampart_breaker_state', 'rampart_worker_restarts_total', 'rampart_restart_policy_state']) {
    if (!any(new RegExp(`\\b${m}\\b`))) p.push(`dashboard: no panel shows ${m}`);
  }
  for (const e of promExprs) for (const m of metricNames(e)) if (!knownMetrics.has(m)) p.push(`dashboard: unknown metric ${m}`);

  const vars = arr(dash?.templating?.list);
  const cid = vars.find((v) => v?.name === 'correlationId');
  if (!cid || cid.type !== 'textbox') p.push('dashboard: no textbox variable "correlationId"');
  const logs = panels.filter((pn) => pn?.type === 'logs');
  if (logs.length === 0) p.push('dashboard: no logs panel');
  for (const lp of logs) {
    const exprs = arr(lp?.targets).map((t) => str(t?.expr));
    if ((lp?.datasource?.type ?? '') !== 'loki') p.push(`dashboard logs panel "${str(lp?.title)}": datasource is not Loki`);
    if (!exprs.some((e) => /\$\{?correlationId\b/.test(e))) p.push(`dashboard logs panel "${str(lp?.title)}": not filtered by $correlationId`);
    for (const e of exprs) {
      const selector = /^\s*\{([^}]*)\}/.exec(e)?.[1] ?? '';
      if (/correlationId/.test(selector)) p.push(`dashboard logs panel: correlationId used as a stream label (cardinality)`);
    }
  }
  for (const pn of panels) {
    for (const ds of [pn?.datasource, ...arr(pn?.targets).map((t) => t?.datasource)]) {
      if (isObj(ds) && ds.uid !== undefined && !String(ds.uid).startsWith('$') && !datasourceUids.has(str(ds.uid))) {
        p.push(`dashboard panel "${str(pn?.title)}": datasource uid ${str(ds.uid)} is not provisioned`);
      }
    }
  }
  return p;
}

/** Body of each `name "label" { ... }` or `name { ... }` block with that name (brace-matched). */
export function alloyBlocks(text: string, name: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`(^|\\s)${name.replace(/\./g, '\\.')}(?:\\s+"[^"]*")?\\s*\\{`, 'g');
  for (const m of text.matchAll(re)) {
    let depth = 1;
    let i = (m.index ?? 0) + m[0].length;
    const startBody = i;
    let inStr = false;
    for (; i < text.length && depth > 0; i++) {
      const ch = text[i];
      if (inStr) {
        if (ch === '\\') i++;
        else if (ch === '"') inStr = false;
      } else if (ch === '"') inStr = true;
      else if (ch === '{') depth++;
      else if (ch === '}') depth--;
    }
    out.push(text.slice(startBody, i - 1));
  }
  return out;
}

/** Alloy config text without // and /* *\/ comments (strings respected). */
function stripAlloyComments(text: string): string {
  return text.replace(/"(?:[^"\\]|\\.)*"|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (m) => (m.startsWith('"') ? m : ''));
}

export function checkAlloy(text: string): Problems {
  const p: Problems = [];
  const code = stripAlloyComments(text);
  if (/^\s*#/m.test(code)) p.push('alloy: "#" comments are not Alloy syntax (use //)');
  let depth = 0;
  for (const ch of code.replace(/"(?:[^"\\]|\\.)*"/g, '""')) {
    if (ch === '{') depth++;
    if (ch === '}') depth--;
    if (depth < 0) break;
  }
  if (depth !== 0) p.push('alloy: unbalanced braces');
  if (alloyBlocks(code, 'discovery.docker').length === 0) p.push('alloy: no discovery.docker');
  const sources = alloyBlocks(code, 'loki.source.docker');
  if (sources.length === 0) p.push('alloy: no loki.source.docker');
  for (const s of sources) if (!/targets\s*=\s*discovery\.(docker|relabel)\./.test(s)) p.push('alloy: loki.source.docker does not read discovered targets');
  const writes = alloyBlocks(code, 'loki.write');
  if (!writes.some((w) => /url\s*=\s*"http:\/\/loki:3100\/loki\/api\/v1\/push"/.test(w))) p.push('alloy: loki.write does not push to loki:3100');
  if (alloyBlocks(code, 'stage.json').length === 0) p.push('alloy: no stage.json (pino lines are not parsed)');
  const labels = alloyBlocks(code, 'stage.labels').join('\n');
  for (const hi of ['correlationId', 'userId']) if (new RegExp(`\\b${hi}\\b`).test(labels)) p.push(`alloy: ${hi} is a label (unbounded cardinality); use structured metadata`);
  if (!/\blevel\b/.test(labels)) p.push('alloy: level is not a label');
  const meta = alloyBlocks(code, 'stage.structured_metadata').join('\n');
  if (!/\bcorrelationId\b/.test(meta)) p.push('alloy: correlationId is not structured metadata');
  const relabel = alloyBlocks(code, 'discovery.relabel').join('\n') + alloyBlocks(code, 'loki.source.docker').join('\n');
  if (/target_label\s*=\s*"(correlationId|userId)"/.test(relabel)) p.push('alloy: per-request value relabelled into a label');
  return p;
}

export function checkLoki(cfg: Doc): Problems {
  const p: Problems = [];
  if (cfg?.auth_enabled !== false) p.push('loki: auth_enabled should be false for the single-tenant single binary');
  if (cfg?.limits_config?.allow_structured_metadata !== true) p.push('loki: allow_structured_metadata is not true');
  const schemas = arr(cfg?.schema_config?.configs);
  const last = schemas[schemas.length - 1];
  if (!last || last.schema !== 'v13' || last.store !== 'tsdb') p.push('loki: latest schema must be tsdb v13 (needed for structured metadata)');
  if (!last || last.object_store !== 'filesystem' || !isObj(cfg?.common?.storage?.filesystem)) p.push('loki: storage is not the local filesystem');
  if (Number(cfg?.common?.replication_factor) !== 1) p.push('loki: single binary needs replication_factor 1');
  return p;
}

export interface GrafanaProvisioning { datasources: Doc; providers: Doc }

export function checkGrafana(prov: GrafanaProvisioning, compose: Doc): Problems {
  const p: Problems = [];
  const services: Record<string, Doc> = isObj(compose?.services) ? compose.services : {};
  const ds = arr(prov.datasources?.datasources);
  for (const [type, svc, port] of [['prometheus', 'prometheus', '9090'], ['loki', 'loki', '3100']] as const) {
    const d = ds.find((x) => x?.type === type);
    if (!d) p.push(`grafana: no ${type} datasource`);
    else if (str(d.url) !== `http://${svc}:${port}` || !(svc in services)) p.push(`grafana ${type} datasource: url ${str(d.url)} is not the compose service ${svc}:${port}`);
  }
  const grafana = Object.values(services).find((s) => isObj(s) && /(^|\/)grafana\/grafana:/.test(str(s.image)));
  const mounts = grafana ? arr(grafana.volumes).map(str) : [];
  const dashMount = mounts.map((m) => m.split(':')).find(([src]) => /deploy\/grafana\/dashboards\/?$/.test(src ?? ''))?.[1];
  const provMount = mounts.map((m) => m.split(':')).find(([src]) => /deploy\/grafana\/provisioning\/?$/.test(src ?? ''))?.[1];
  if (provMount !== '/etc/grafana/provisioning') p.push('compose grafana: deploy/grafana/provisioning not mounted at /etc/grafana/provisioning');
  const providers = arr(prov.providers?.providers);
  if (providers.length === 0) p.push('grafana: no dashboard provider');
  for (const pr of providers) {
    if (pr?.type !== 'file') p.push(`grafana provider ${str(pr?.name)}: type is not file`);
    if (!dashMount || str(pr?.options?.path).replace(/\/$/, '') !== dashMount.replace(/\/$/, '')) {
      p.push(`grafana provider ${str(pr?.name)}: path ${str(pr?.options?.path)} is not where compose mounts deploy/grafana/dashboards (${dashMount ?? 'not mounted'})`);
    }
  }
  return p;
}
