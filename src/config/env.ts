import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { trustedProxiesProblem } from '../security/ip/trusted-proxies.js';
import { directoryConfig } from './directory-config.js';
import type { ApiDocsAccess, EnforceMode, NodeEnv, RampartConfig } from './rampart-config.js';
import { envSchema } from './schema.js';

/** The placeholder `.env.example` ships; production refuses it like any other known placeholder. */
export const ENV_EXAMPLE_SESSION_SECRET = 'replace-with-output-of-openssl-rand-base64-48';

const PLACEHOLDER_SECRETS = new Set([
  ENV_EXAMPLE_SESSION_SECRET,
  'changeme',
  'change-me',
  'change_me',
  'secret',
  'password',
  'keyboard cat',
  'default',
  'example',
  'test',
  'session-secret',
  'supersecret',
  'your-secret-here',
]);

/** Thrown before anything starts; `main` prints each problem on its own line and exits 78. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadedConfig {
  config: RampartConfig;
  /** Things worth one log line at start (generated secret, single-instance mode…). */
  warnings: string[];
}

type Env = Record<string, string | undefined>;

/** Why a session secret is weak, or null. Never includes the secret itself. */
export function sessionSecretWeakness(secret: string): string | null {
  if (PLACEHOLDER_SECRETS.has(secret.trim().toLowerCase()) || PLACEHOLDER_SECRETS.has(secret)) {
    return 'SESSION_SECRET is a known placeholder value; generate a random one (openssl rand -base64 48)';
  }
  if (secret.length < 32) {
    return `SESSION_SECRET is too short (${secret.length} characters, at least 32 required)`;
  }
  if (new Set(secret).size < 10) {
    return 'SESSION_SECRET has fewer than 10 distinct characters';
  }
  return null;
}

/**
 * ADMISSION_MIN_LIMIT, or unset twice the request pool's connections: a request spends part of
 * its time off the database (session, JSON, the loop), so with only one per connection some
 * connections sit idle; two per connection is where throughput peaked (npm run load:overload's
 * capacity at 32 in flight against 15 connections), and it is what kept a 50-user rolling
 * restart free of refusals on a starved machine where 15 did not (test/chaos).
 */
function admissionMinLimit(v: Record<string, unknown>): number {
  return v.ADMISSION_MIN_LIMIT === undefined ? 2 * (Number(v.DB_POOL_SIZE) + Number(v.DB_POOL_MAX_OVERFLOW)) : Number(v.ADMISSION_MIN_LIMIT);
}

function parseWorkers(value: number | string): number {
  return value === 'auto' ? Math.max(1, availableParallelism()) : Number(value);
}

/**
 * Validates the environment once. Joi reports every problem (abortEarly off) so an operator
 * fixes them all in one round; messages name variables, never their values.
 */
export function loadConfig(rawEnv: Env, version = '0.0.0'): LoadedConfig {
  const problems: string[] = [];
  const warnings: string[] = [];
  // `VAR=` (as .env.example and compose files write it) means "not set", not "set to nothing".
  const env: Env = Object.fromEntries(Object.entries(rawEnv).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const { value, error } = envSchema.validate(env, { abortEarly: false, convert: true });
  if (error) {
    for (const detail of error.details) {
      const key = detail.path.join('.');
      // Joi's messages quote the offending value for some rules; ours must not echo secrets.
      problems.push(`${key} is invalid: ${detail.type.replace(/^[a-z]+\./, '')}${describeLimit(detail.context)}`);
    }
  }
  const v = value as Record<string, unknown>;
  const nodeEnv = (v.NODE_ENV ?? 'development') as NodeEnv;
  const isProduction = nodeEnv === 'production';

  let sessionSecret = typeof v.SESSION_SECRET === 'string' ? v.SESSION_SECRET : '';
  let sessionSecretGenerated = false;
  if (isProduction) {
    if (!sessionSecret) problems.push('SESSION_SECRET is required in production');
    else {
      const weakness = sessionSecretWeakness(sessionSecret);
      if (weakness) problems.push(weakness);
    }
    if (!v.DATABASE_URL) problems.push('DATABASE_URL is required in production (embedded PostgreSQL is for development)');
    if (!v.REDIS_URL) problems.push('REDIS_URL is required in production (in-memory sessions cannot be shared)');
    if (v.ENABLE_TEST_HOOKS === true) problems.push('ENABLE_TEST_HOOKS must not be set in production');
  } else if (!sessionSecret) {
    sessionSecret = randomBytes(48).toString('base64url');
    sessionSecretGenerated = true;
    warnings.push('SESSION_SECRET is not set: generated one for this start; sessions will not survive a restart');
  }
  if (typeof v.TRUSTED_PROXIES === 'string') {
    const proxyProblem = trustedProxiesProblem(v.TRUSTED_PROXIES.split(','));
    if (proxyProblem) problems.push(proxyProblem);
  }
  if (v.WORKERS !== undefined && parseWorkers(v.WORKERS as number | string) > 1 && !v.REDIS_URL) {
    problems.push('WORKERS > 1 needs REDIS_URL: sessions and rate-limit counters must be shared between workers');
  }
  if (Number(v.ADMISSION_SHED_LAG_MS) >= Number(v.HEALTH_EVENT_LOOP_LAG_MS)) {
    problems.push('ADMISSION_SHED_LAG_MS must be below HEALTH_EVENT_LOOP_LAG_MS: a worker has to shed load before liveness fails');
  }
  const admissionFloor = admissionMinLimit(v);
  if (v.ADMISSION_MIN_LIMIT !== undefined && admissionFloor > Number(v.ADMISSION_MAX_LIMIT)) {
    problems.push('ADMISSION_MIN_LIMIT must not be above ADMISSION_MAX_LIMIT');
  }
  const auth = directoryConfig(v, isProduction, problems);
  if (problems.length > 0) throw new ConfigError(problems);

  const num = (key: string) => Number(v[key]);
  const str = (key: string) => (typeof v[key] === 'string' ? (v[key] as string) : null);
  const drainDelayMs = env.SHUTDOWN_DRAIN_DELAY_MS === undefined && isProduction ? 5000 : num('SHUTDOWN_DRAIN_DELAY_MS');
  const healthCacheMs = env.HEALTH_CACHE_MS === undefined && nodeEnv === 'test' ? 0 : num('HEALTH_CACHE_MS');

  const publicOrigin = typeof v.PUBLIC_ORIGIN === 'string' ? new URL(v.PUBLIC_ORIGIN).origin : null;

  const config: RampartConfig = {
    app: {
      env: nodeEnv,
      isProduction,
      host: String(v.HOST),
      port: num('PORT'),
      logLevel: String(v.LOG_LEVEL),
      dataDir: resolve(String(v.DATA_DIR)),
      bodyLimit: String(v.BODY_LIMIT),
      testHooks: v.ENABLE_TEST_HOOKS === true,
      version,
      apiDocs: apiDocsAccess(str('API_DOCS'), isProduction),
      grafanaUrl: str('GRAFANA_URL'),
    },
    database: {
      url: str('DATABASE_URL'),
      poolSize: num('DB_POOL_SIZE'),
      maxOverflow: num('DB_POOL_MAX_OVERFLOW'),
      poolTimeoutMs: num('DB_POOL_TIMEOUT_MS'),
      idleTimeoutMs: num('DB_POOL_IDLE_TIMEOUT_MS'),
      queryTimeoutMs: num('DB_QUERY_TIMEOUT_MS'),
      connectTimeoutMs: num('DB_CONNECT_TIMEOUT_MS'),
      keepAliveIdleMs: num('DB_KEEPALIVE_IDLE_MS'),
      slowQueryMs: num('DB_SLOW_QUERY_MS'),
      connectionMaxLifetimeS: num('DB_CONNECTION_MAX_LIFETIME_S'),
      preparedStatements: v.DB_PREPARED_STATEMENTS === true,
      embeddedPort: num('EMBEDDED_PG_PORT'),
      seedLots: num('SEED_LOTS'),
      adminUsername: String(v.ADMIN_BOOTSTRAP_USERNAME),
      adminPassword: str('ADMIN_BOOTSTRAP_PASSWORD'),
    },
    redis: {
      url: str('REDIS_URL'),
      keyPrefix: String(v.REDIS_KEY_PREFIX),
      socketTimeoutMs: num('REDIS_SOCKET_TIMEOUT_MS'),
      heartbeatMs: num('REDIS_HEARTBEAT_MS'),
    },
    security: {
      sessionSecret,
      sessionSecretGenerated,
      idleTimeoutS: num('SESSION_IDLE_TIMEOUT_S'),
      absoluteTimeoutS: num('SESSION_ABSOLUTE_TIMEOUT_S'),
      anonymousTimeoutS: num('SESSION_ANONYMOUS_TIMEOUT_S'),
      csrfMode: v.CSRF_MODE as EnforceMode,
      cspMode: v.CSP_MODE as EnforceMode,
      trustedProxies: String(v.TRUSTED_PROXIES)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      loginPerMin: num('RATE_LIMIT_LOGIN_PER_MIN'),
      resetPerHour: num('RATE_LIMIT_RESET_PER_HOUR'),
      accountPerMin: num('RATE_LIMIT_ACCOUNT_PER_MIN'),
      anonymousPerMin: num('RATE_LIMIT_ANONYMOUS_PER_MIN'),
      loginFailures: {
        perAccount: num('RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT'),
        directoryPerAccount: num('LDAP_FAILURES_PER_ACCOUNT'),
        windowS: num('RATE_LIMIT_LOGIN_FAILURES_WINDOW_S'),
        maxDelayS: num('RATE_LIMIT_LOGIN_FAILURES_MAX_DELAY_S'),
      },
      metricsToken: str('METRICS_TOKEN'),
      publicOrigin,
      allowedHosts: allowedHosts(String(v.ALLOWED_HOSTS), publicOrigin),
    },
    resilience: {
      breaker: {
        failureRate: num('BREAKER_FAILURE_RATE'),
        windowMs: num('BREAKER_WINDOW_MS'),
        minVolume: num('BREAKER_MIN_VOLUME'),
        openMs: num('BREAKER_OPEN_MS'),
        openMaxMs: Math.max(num('BREAKER_OPEN_MAX_MS'), num('BREAKER_OPEN_MS')),
        halfOpenProbes: num('BREAKER_HALF_OPEN_PROBES'),
      },
      shutdown: {
        drainDelayMs,
        timeoutMs: num('SHUTDOWN_TIMEOUT_MS'),
        hookTimeoutMs: num('SHUTDOWN_HOOK_TIMEOUT_MS'),
      },
      reportCacheRefreshMs: num('REPORT_CACHE_REFRESH_MS'),
      sse: {
        maxSubscribers: num('SSE_MAX_SUBSCRIBERS'),
        heartbeatMs: num('SSE_HEARTBEAT_MS'),
        maxPerUser: num('SSE_MAX_PER_USER'),
        sessionCheckMs: num('SSE_SESSION_CHECK_MS'),
      },
      realtimeProbe: { intervalMs: num('REALTIME_PROBE_INTERVAL_MS'), timeoutMs: num('REALTIME_PROBE_TIMEOUT_MS') },
    },
    health: {
      dbTimeoutMs: num('HEALTH_DB_TIMEOUT_MS'),
      cacheMs: healthCacheMs,
      eventLoopLagMs: num('HEALTH_EVENT_LOOP_LAG_MS'),
      throttleSaturation: num('HEALTH_POOL_THROTTLE_SATURATION'),
    },
    admission: {
      enabled: v.ADMISSION_CONTROL === true,
      minLimit: Math.min(admissionFloor, num('ADMISSION_MAX_LIMIT')),
      maxLimit: num('ADMISSION_MAX_LIMIT'),
      initialLimit: Math.min(num('ADMISSION_MAX_LIMIT'), Math.max(admissionFloor, num('ADMISSION_INITIAL_LIMIT'))),
      queueSize: num('ADMISSION_QUEUE_SIZE'),
      queueTargetMs: num('ADMISSION_QUEUE_TARGET_MS'),
      queueIntervalMs: Math.max(num('ADMISSION_QUEUE_INTERVAL_MS'), num('ADMISSION_QUEUE_TARGET_MS')),
      shedLagMs: num('ADMISSION_SHED_LAG_MS'),
      priorityLimit: num('ADMISSION_PRIORITY_LIMIT'),
      passwordHash: {
        concurrency: num('PASSWORD_HASH_CONCURRENCY'),
        queueSize: num('PASSWORD_HASH_QUEUE'),
        queueTimeoutMs: num('PASSWORD_HASH_QUEUE_TIMEOUT_MS'),
      },
    },
    auth,
    cluster: {
      workers: parseWorkers(v.WORKERS as number | string),
      readyTimeoutMs: num('WORKER_READY_TIMEOUT_MS'),
      watchdogTimeoutMs: num('WATCHDOG_TIMEOUT_MS'),
      watchdogLagMs: num('WATCHDOG_LAG_MS'),
      watchdogLagBeats: num('WATCHDOG_LAG_BEATS'),
      churnWindowS: num('RESTART_CHURN_WINDOW_S'),
      churnMax: num('RESTART_CHURN_MAX'),
      cooldownS: num('RESTART_COOLDOWN_S'),
      blockedMaxWaitS: num('RESTART_BLOCKED_MAX_WAIT_S'),
      maxRssMb: num('WORKER_MAX_RSS_MB'),
      maxRequests: num('WORKER_MAX_REQUESTS'),
      recycleMinUptimeS: num('WORKER_RECYCLE_MIN_UPTIME_S'),
    },
  };
  if (config.cluster.workers === 1 && (config.cluster.maxRssMb > 0 || config.cluster.maxRequests > 0)) {
    warnings.push(
      'WORKER_MAX_RSS_MB / WORKER_MAX_REQUESTS are ignored with WORKERS=1: recycling replaces a worker next to the others ' +
        'through the cluster supervisor, which needs WORKERS >= 2 (one process cannot replace itself without dropping requests)',
    );
  }
  // Announced once per process at start: a report-only mode left on after a rollout is a hole.
  if (config.security.csrfMode === 'report-only') {
    warnings.push('CSRF_MODE=report-only: cross-site requests that enforce would refuse are logged and let through');
  }
  if (config.security.cspMode === 'report-only') {
    warnings.push('CSP_MODE=report-only: the Content-Security-Policy is sent as Report-Only; violations are reported, not blocked');
  }
  if (!config.redis.url) {
    warnings.push('REDIS_URL is not set: single-instance mode, sessions and rate-limit counters live in this process');
  }
  return { config, warnings };
}

/** In production the docs list every admin route: off unless asked for, and then for admins only. */
function apiDocsAccess(value: string | null, isProduction: boolean): ApiDocsAccess {
  if (value === 'off' || (value === null && isProduction)) return 'off';
  return isProduction ? 'admin' : 'open';
}

/** The public origin's own host is served whatever ALLOWED_HOSTS says. */
function allowedHosts(list: string, publicOrigin: string | null): string[] {
  const hosts = list
    .split(',')
    .map((entry) => entry.trim().toLowerCase().replace(/\.$/, ''))
    .filter(Boolean);
  if (publicOrigin !== null) hosts.push(new URL(publicOrigin).hostname);
  return [...new Set(hosts)];
}

function describeLimit(context: Record<string, unknown> | undefined): string {
  if (!context) return '';
  if (context.limit !== undefined && typeof context.limit !== 'object') return ` (limit ${String(context.limit)})`;
  if (Array.isArray(context.valids)) return ` (allowed: ${context.valids.join(', ')})`;
  return '';
}
