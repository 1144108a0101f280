import Joi from 'joi';

/**
 * One Joi schema per feature; `env.ts` validates their union once at start. Defaults live
 * here and only here, so `.env.example`, RUNBOOK and the running process cannot disagree.
 */
const ms = (def: number) => Joi.number().integer().min(0).default(def);
const positive = (def: number) => Joi.number().integer().min(1).default(def);

export const appSchema = Joi.object({
  NODE_ENV: Joi.string().valid('development', 'production', 'test').default('development'),
  HOST: Joi.string().hostname().default('127.0.0.1'),
  PORT: Joi.number().port().default(3000),
  LOG_LEVEL: Joi.string().valid('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent').default('info'),
  DATA_DIR: Joi.string().default('./.data'),
  BODY_LIMIT: Joi.string()
    .pattern(/^\d+(b|kb|mb)$/i)
    .default('100kb'),
  ENABLE_TEST_HOOKS: Joi.boolean().default(false),
  // No default here: off in production, on elsewhere (env.ts), like SHUTDOWN_DRAIN_DELAY_MS.
  API_DOCS: Joi.string().valid('on', 'off'),
  // The operator console links here (dashboards); unset = no link.
  GRAFANA_URL: Joi.string().uri({ scheme: ['http', 'https'] }).empty(''),
});

export const databaseSchema = Joi.object({
  DATABASE_URL: Joi.string().uri({ scheme: ['postgres', 'postgresql'] }),
  DB_POOL_SIZE: positive(10),
  DB_POOL_MAX_OVERFLOW: Joi.number().integer().min(0).default(5),
  DB_POOL_TIMEOUT_MS: positive(2000),
  DB_POOL_IDLE_TIMEOUT_MS: positive(30_000),
  DB_QUERY_TIMEOUT_MS: positive(5000),
  DB_CONNECT_TIMEOUT_MS: positive(5000),
  DB_KEEPALIVE_IDLE_MS: Joi.number().integer().min(1000).max(7_200_000).default(10_000),
  // 0 = no slow-query log line.
  DB_SLOW_QUERY_MS: Joi.number().integer().min(0).max(600_000).default(1000),
  // 0 = connections live until they fail; HikariCP's maxLifetime default is 30 min.
  DB_CONNECTION_MAX_LIFETIME_S: Joi.number().integer().min(0).max(86_400).default(1800),
  // false behind a PgBouncer in transaction mode that does not track prepared statements (< 1.21).
  DB_PREPARED_STATEMENTS: Joi.boolean().default(true),
  EMBEDDED_PG_PORT: Joi.number().port().default(0),
  SEED_LOTS: Joi.number().integer().min(0).max(1_000_000).default(200),
  // Lower-cased as sign-in folds names, so `Admin` cannot become a second spelling of `admin`.
  ADMIN_BOOTSTRAP_USERNAME: Joi.string()
    .lowercase()
    .pattern(/^[a-zA-Z0-9._-]{3,64}$/)
    .default('admin'),
  ADMIN_BOOTSTRAP_PASSWORD: Joi.string().min(12).max(256),
});

export const redisSchema = Joi.object({
  REDIS_URL: Joi.string().uri({ scheme: ['redis', 'rediss'] }),
  REDIS_KEY_PREFIX: Joi.string()
    .pattern(/^[a-zA-Z0-9:_-]{1,32}$/)
    .default('rampart:'),
  // Below ~100 ms a busy but healthy Redis would be taken for dead.
  REDIS_SOCKET_TIMEOUT_MS: Joi.number().integer().min(100).max(60_000).default(2000),
  REDIS_HEARTBEAT_MS: Joi.number().integer().min(100).max(60_000).default(1000),
});

export const securitySchema = Joi.object({
  SESSION_SECRET: Joi.string().min(1).max(1024),
  SESSION_IDLE_TIMEOUT_S: positive(1800),
  SESSION_ABSOLUTE_TIMEOUT_S: positive(43_200),
  // CONTRACT: anonymous pre-login sessions expire within minutes.
  SESSION_ANONYMOUS_TIMEOUT_S: positive(300).max(900),
  CSRF_MODE: Joi.string().valid('enforce', 'report-only').default('enforce'),
  CSP_MODE: Joi.string().valid('enforce', 'report-only').default('enforce'),
  TRUSTED_PROXIES: Joi.string().default('loopback'),
  RATE_LIMIT_LOGIN_PER_MIN: positive(10),
  RATE_LIMIT_RESET_PER_HOUR: positive(5),
  RATE_LIMIT_ACCOUNT_PER_MIN: positive(100),
  RATE_LIMIT_ANONYMOUS_PER_MIN: positive(60),
  RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT: positive(20),
  RATE_LIMIT_LOGIN_FAILURES_WINDOW_S: positive(900),
  RATE_LIMIT_LOGIN_FAILURES_MAX_DELAY_S: positive(3600),
  METRICS_TOKEN: Joi.string().min(16).max(512),
  // scheme://host[:port] and nothing else: no path, query, fragment or credentials.
  PUBLIC_ORIGIN: Joi.string()
    .uri({ scheme: ['http', 'https'] })
    .pattern(/^https?:\/\/[^/?#@\s]+\/?$/i),
  // Host names (no ports), comma-separated; IP literals are always served.
  ALLOWED_HOSTS: Joi.string()
    .pattern(/^\s*[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?\.?\s*(?:,\s*[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?\.?\s*)*$/i)
    .default('localhost'),
});

export const resilienceSchema = Joi.object({
  BREAKER_FAILURE_RATE: Joi.number().greater(0).max(1).default(0.5),
  BREAKER_WINDOW_MS: positive(10_000),
  BREAKER_MIN_VOLUME: positive(20),
  BREAKER_OPEN_MS: positive(5000),
  BREAKER_OPEN_MAX_MS: positive(60_000),
  BREAKER_HALF_OPEN_PROBES: positive(1),
  SHUTDOWN_DRAIN_DELAY_MS: ms(0),
  SHUTDOWN_TIMEOUT_MS: positive(10_000),
  SHUTDOWN_HOOK_TIMEOUT_MS: positive(5000),
  REPORT_CACHE_REFRESH_MS: positive(5000),
  SSE_MAX_SUBSCRIBERS: positive(200),
  SSE_HEARTBEAT_MS: positive(15_000),
  SSE_MAX_PER_USER: positive(5),
  SSE_SESSION_CHECK_MS: Joi.number().integer().min(100).max(60_000).default(10_000),
  REALTIME_PROBE_INTERVAL_MS: Joi.number().integer().min(100).max(600_000).default(2000),
  REALTIME_PROBE_TIMEOUT_MS: Joi.number().integer().min(100).max(60_000).default(2000),
});

export const healthSchema = Joi.object({
  HEALTH_DB_TIMEOUT_MS: Joi.number().integer().min(50).max(10_000).default(500),
  HEALTH_CACHE_MS: ms(5000),
  HEALTH_EVENT_LOOP_LAG_MS: positive(200),
  HEALTH_POOL_THROTTLE_SATURATION: Joi.number().greater(0).max(1).default(0.8),
});

export const admissionSchema = Joi.object({
  ADMISSION_CONTROL: Joi.boolean().default(true),
  // Starts high: a closed-loop user population (users waiting for their own answers) never
  // queues, and the limit only comes down on a saturated loop or long pool waits.
  ADMISSION_INITIAL_LIMIT: positive(64),
  // The floor a saturated worker's limit may reach. Unset: twice the request pool's
  // connections, 2 x (DB_POOL_SIZE + DB_POOL_MAX_OVERFLOW) (see admissionMinLimit in env.ts).
  ADMISSION_MIN_LIMIT: Joi.number().integer().min(1),
  ADMISSION_MAX_LIMIT: positive(512),
  ADMISSION_QUEUE_SIZE: Joi.number().integer().min(0).max(10_000).default(64),
  // The longest wait while the worker is overloaded (more requests arrive than finish) or lags.
  ADMISSION_QUEUE_TARGET_MS: positive(5),
  // The longest wait otherwise: users who wait for their answers (a closed loop larger than the
  // limit) queue briefly instead of being refused; CoDel's interval.
  ADMISSION_QUEUE_INTERVAL_MS: positive(100),
  ADMISSION_SHED_LAG_MS: positive(50),
  ADMISSION_PRIORITY_LIMIT: positive(16),
  PASSWORD_HASH_CONCURRENCY: Joi.number().integer().min(0).max(256).default(2),
  PASSWORD_HASH_QUEUE: Joi.number().integer().min(0).max(10_000).default(16),
  PASSWORD_HASH_QUEUE_TIMEOUT_MS: positive(500),
});

export const clusterSchema = Joi.object({
  WORKERS: Joi.alternatives(Joi.number().integer().min(1).max(64), Joi.string().valid('auto')).default(1),
  WORKER_READY_TIMEOUT_MS: positive(30_000),
  WATCHDOG_TIMEOUT_MS: positive(10_000),
  WATCHDOG_LAG_MS: positive(1000),
  WATCHDOG_LAG_BEATS: positive(5),
  RESTART_CHURN_WINDOW_S: positive(600),
  RESTART_CHURN_MAX: positive(3),
  RESTART_COOLDOWN_S: ms(30),
  RESTART_BLOCKED_MAX_WAIT_S: positive(120),
  // Worker recycling (cluster mode): 0 = off.
  WORKER_MAX_RSS_MB: Joi.number().integer().min(0).default(0),
  WORKER_MAX_REQUESTS: Joi.number().integer().min(0).default(0),
  WORKER_RECYCLE_MIN_UPTIME_S: positive(60),
});

export const directorySchema = Joi.object({
  // Ordered, comma-separated; see env.ts for what the order means.
  AUTH_PROVIDERS: Joi.string()
    .pattern(/^\s*(local|ldap)\s*(,\s*(local|ldap)\s*)?$/)
    .default('local'),
  LDAP_URL: Joi.string().pattern(/^ldaps?:\/\/[^/?#\s]+\/?$/i),
  LDAP_BIND_DN: Joi.string().max(1024),
  LDAP_BIND_PASSWORD: Joi.string().max(1024),
  LDAP_USER_BASE: Joi.string().max(1024),
  LDAP_USER_FILTER: Joi.string().max(1024).pattern(/\{username\}/).default('(uid={username})'),
  LDAP_GROUP_SEARCH: Joi.string().valid('member', 'memberOf', 'ad-nested').default('member'),
  LDAP_GROUP_BASE: Joi.string().max(1024),
  LDAP_ROLE_RULES: Joi.string().max(8192),
  LDAP_CONNECT_TIMEOUT_MS: Joi.number().integer().min(100).max(60_000).default(3000),
  LDAP_TIMEOUT_MS: Joi.number().integer().min(100).max(60_000).default(5000),
  LDAP_CA_FILE: Joi.string(),
  LDAP_STARTTLS: Joi.boolean().default(false),
  // Failed directory sign-ins per name per RATE_LIMIT_LOGIN_FAILURES_WINDOW_S: below AD's lockoutThreshold (RUNBOOK 9).
  LDAP_FAILURES_PER_ACCOUNT: positive(3),
  // Directory users' sessions end this long after sign-in (leavers are only noticed at a sign-in).
  LDAP_SESSION_MAX_S: positive(3600),
});

export const envSchema = appSchema
  .concat(databaseSchema)
  .concat(redisSchema)
  .concat(securitySchema)
  .concat(resilienceSchema)
  .concat(healthSchema)
  .concat(admissionSchema)
  .concat(clusterSchema)
  .concat(directorySchema)
  // Unrelated variables (PATH, HOME, npm_*) are the environment's business, not ours.
  .unknown(true);
