import { Inject, Injectable } from '@nestjs/common';
import cluster from 'node:cluster';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { RUNTIME, type Runtime } from '../runtime.js';
import { PoolManager } from '../database/pool-manager.js';
import { BreakerService, MAIN_DB_BREAKER, type BreakerState } from '../resilience/breaker.service.js';
import { DIRECTORY, type DirectorySignIn } from '../auth/directory/directory-sign-in.js';
import { AdmissionController } from '../resilience/admission/admission-controller.js';
import { LANES } from '../resilience/admission/lanes.js';
import { RateLimitMetrics } from '../security/rate-limit/rate-limit.metrics.js';
import { sessionStoreFailures } from '../security/session/session-store-unavailable.exception.js';

const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

/**
 * This worker's Prometheus registry. Gauges read live values at scrape time (no timers);
 * in cluster mode the supervisor aggregates every worker's registry into one scrape, so each
 * metric declares how it combines (`aggregator`).
 */
/** The route label of requests refused before routing (no template is known for them). */
export const REFUSED_ROUTE = '(admission)';

@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  private readonly httpErrors: Counter<'code' | 'route'>;

  constructor(
    pool: PoolManager,
    @Inject(MAIN_DB_BREAKER) breaker: BreakerService,
    rateLimits: RateLimitMetrics,
    @Inject(RUNTIME) runtime: Runtime,
    admission: AdmissionController,
    @Inject(DIRECTORY) directory: DirectorySignIn | null,
  ) {
    collectDefaultMetrics({ register: this.registry });
    if (cluster.isWorker) {
      // Answer the primary's aggregation requests with this registry (constructing one installs the listener).
      AggregatorRegistry.setRegistries([this.registry]);
      new AggregatorRegistry();
    } else {
      // Alone (WORKERS=1) this process is its own supervisor view; in a cluster the primary publishes these.
      const channel = runtime.channel;
      new Gauge({
        name: 'rampart_restart_policy_state',
        help: 'Restart churn policy: 0 allowed, 1 cooling_down, 2 blocked',
        registers: [this.registry],
        async collect() {
          const state = (await channel.requestStatus()).policy.state;
          this.set(state === 'blocked' ? 2 : state === 'cooling_down' ? 1 : 0);
        },
      });
      const restarts = new Counter({ name: 'rampart_worker_restarts_total', help: 'Worker replacements by kind', labelNames: ['reason'], registers: [this.registry] });
      for (const reason of ['rolling', 'watchdog', 'crash']) restarts.inc({ reason }, 0);
    }
    this.httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by method, route template and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    this.httpErrors = new Counter({
      name: 'rampart_http_errors_total',
      help: 'Non-2xx answers by contract error code and route template (unmatched when no route)',
      labelNames: ['code', 'route'],
      registers: [this.registry],
    });
    new Gauge({
      name: 'rampart_db_pool_connections',
      help: 'Main pool connections by state (size is the configured DB_POOL_SIZE)',
      labelNames: ['state'],
      registers: [this.registry],
      aggregator: 'sum',
      collect() {
        const stats = pool.stats();
        this.set({ state: 'size' }, stats.size);
        this.set({ state: 'max' }, stats.max);
        this.set({ state: 'in_use' }, stats.inUse);
        this.set({ state: 'idle' }, stats.idle);
        this.set({ state: 'waiting' }, stats.waiting);
      },
    });
    // HikariCP's connections.acquire and connections.timeout, and a per-statement timer.
    const poolWait = new Histogram({
      name: 'rampart_db_pool_wait_seconds',
      help: 'Time a request waited for a main-pool connection (acquired or not)',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    const poolTimeouts = new Counter({
      name: 'rampart_db_pool_wait_timeouts_total',
      help: 'Requests that gave up waiting for a main-pool connection (DB_POOL_EXHAUSTED)',
      registers: [this.registry],
    });
    const queryDuration = new Histogram({
      name: 'rampart_db_query_duration_seconds',
      help: 'Main-pool statement latency by short statement name (bounded set)',
      labelNames: ['statement'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    pool.observe({
      connectionWait(seconds, outcome) {
        poolWait.observe(seconds);
        if (outcome === 'timeout') poolTimeouts.inc();
      },
      query(statement, seconds) {
        queryDuration.observe({ statement }, seconds);
      },
    });
    new Gauge({
      name: 'rampart_db_pool_saturation',
      help: 'Main pool connections in use / max (1.0 = every connection busy); worst worker in cluster mode',
      registers: [this.registry],
      aggregator: 'max',
      collect() {
        this.set(pool.stats().saturation);
      },
    });
    new Gauge({
      name: 'rampart_breaker_state',
      help: 'Main database circuit breaker: 0 closed, 1 half_open, 2 open; worst worker in cluster mode',
      registers: [this.registry],
      aggregator: 'max',
      collect() {
        this.set(BREAKER_STATE_VALUE[breaker.snapshot().state]);
      },
    });
    new Gauge({
      name: 'rampart_breaker_failure_rate',
      help: 'Main database infrastructure failure rate over the breaker window',
      registers: [this.registry],
      aggregator: 'max',
      collect() {
        this.set(breaker.snapshot().failureRate);
      },
    });
    const transitions = new Counter({
      name: 'rampart_breaker_transitions_total',
      help: 'Main database circuit breaker state changes by target state',
      labelNames: ['to'],
      registers: [this.registry],
    });
    breaker.onStateChange((change) => transitions.inc({ to: change.to }));
    if (directory !== null) {
      // A metric of its own rather than a label on rampart_breaker_state, whose alert means the database.
      new Gauge({
        name: 'rampart_directory_breaker_state',
        help: 'Sign-in directory (LDAP/AD) circuit breaker: 0 closed, 1 half_open, 2 open; worst worker in cluster mode',
        registers: [this.registry],
        aggregator: 'max',
        collect() {
          this.set(BREAKER_STATE_VALUE[directory.snapshot().state]);
        },
      });
    }
    // The limiter counts in-process (it must not depend on Prometheus); this publishes its tally.
    new Counter({
      name: 'rampart_rate_limit_rejections_total',
      help: 'Requests rejected with 429 by limit name',
      labelNames: ['limit'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [limit, count] of rateLimits.snapshot().rejections) this.inc({ limit }, count);
      },
    });
    new Counter({
      name: 'rampart_rate_limit_store_failures_total',
      help: 'Rate-limit counter store (Redis) failures; each let its request through uncounted',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(rateLimits.snapshot().storeFailures);
      },
    });
    new Counter({
      name: 'rampart_session_store_failures_total',
      help: 'Requests refused with SESSION_STORE_UNAVAILABLE because the session store failed',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(sessionStoreFailures());
      },
    });
    this.admissionMetrics(admission);
  }

  /** `code` is a contract code (or HTTP_<status>), `route` a template: both sets are bounded. */
  countError(code: string, route: string): void {
    this.httpErrors.inc({ code, route });
  }

  /** Admission control counts in-process (refusals never reach the RED middleware); published here. */
  private admissionMetrics(admission: AdmissionController): void {
    new Counter({
      name: 'rampart_admission_admitted_total',
      help: 'Requests let in by admission control, by lane',
      labelNames: ['lane'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const lane of LANES) this.inc({ lane }, admission.snapshot().admitted.get(lane) ?? 0);
      },
    });
    new Counter({
      name: 'rampart_admission_shed_total',
      help: 'Requests refused with 503 OVERLOADED before any work, by lane and reason',
      labelNames: ['lane', 'reason'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [key, count] of admission.snapshot().shed) {
          const [lane = '', reason = ''] = key.split('|');
          this.inc({ lane, reason }, count);
        }
      },
    });
    new Gauge({
      name: 'rampart_admission_limit',
      help: 'Current adaptive concurrency limit of the general lanes (-1 when admission control is off)',
      registers: [this.registry],
      aggregator: 'sum',
      collect() {
        this.set(admission.limit ?? -1);
      },
    });
    new Gauge({
      name: 'rampart_admission_in_flight',
      help: 'Requests being served, by lane group (general: limited; priority: health, metrics, admin) and queued',
      labelNames: ['lane'],
      registers: [this.registry],
      aggregator: 'sum',
      collect() {
        const snapshot = admission.snapshot();
        this.set({ lane: 'general' }, snapshot.inFlight);
        this.set({ lane: 'priority' }, snapshot.priorityInFlight);
        this.set({ lane: 'queued' }, snapshot.queued);
      },
    });
    new Gauge({
      name: 'rampart_admission_shed_rate',
      help: 'Share of general requests refused over the last second; worst worker in cluster mode',
      registers: [this.registry],
      aggregator: 'max',
      collect() {
        this.set(admission.snapshot().shedRate);
      },
    });
    const queueTime = new Histogram({
      name: 'rampart_admission_queue_seconds',
      help: 'Time requests waited in the admission queue, by lane and outcome (admitted or shed)',
      labelNames: ['lane', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers: [this.registry],
    });
    admission.onQueueTime((seconds, lane, admitted) => queueTime.observe({ lane, outcome: admitted ? 'admitted' : 'shed' }, seconds));
    new Gauge({
      name: 'rampart_bulkhead_operations',
      help: 'Bulkhead operations (e.g. password-hash) by state: active, queued, concurrency cap (0 = none)',
      labelNames: ['bulkhead', 'state'],
      registers: [this.registry],
      aggregator: 'sum',
      collect() {
        for (const b of admission.snapshot().bulkheads) {
          this.set({ bulkhead: b.name, state: 'active' }, b.active);
          this.set({ bulkhead: b.name, state: 'queued' }, b.queued);
          this.set({ bulkhead: b.name, state: 'cap' }, b.concurrency);
        }
      },
    });
    new Counter({
      name: 'rampart_bulkhead_refused_total',
      help: 'Operations a bulkhead refused with 503 OVERLOADED',
      labelNames: ['bulkhead'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const b of admission.snapshot().bulkheads) this.inc({ bulkhead: b.name }, b.refused);
      },
    });
  }

  /**
   * A request admission control refused before routing: counted in the RED metrics under the
   * route label `(admission)`, so error-rate and latency panels include shed load.
   */
  countRefusal(method: string, seconds: number): void {
    // Bound children: at thousands of refusals a second the label lookups are the cost.
    let duration = this.refusedDuration.get(method);
    if (duration === undefined) {
      duration = this.httpDuration.labels(method, REFUSED_ROUTE, '503');
      this.refusedDuration.set(method, duration);
    }
    duration.observe(seconds);
    this.refusedErrors ??= this.httpErrors.labels('OVERLOADED', REFUSED_ROUTE);
    this.refusedErrors.inc();
  }

  private readonly refusedDuration = new Map<string, { observe(seconds: number): void }>();
  private refusedErrors: { inc(): void } | undefined;

  observeRequest(method: string, route: string, statusCode: number, seconds: number): void {
    this.httpDuration.observe({ method, route, status_code: String(statusCode) }, seconds);
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
