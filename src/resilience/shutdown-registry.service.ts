import type { Server } from 'node:http';
import type { BeforeApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { trackHttpServer, type HttpDrainer } from '../cluster/http-drain.js';

/** Teardown order; a later phase starts only when every hook of the earlier one has ended. */
export const SHUTDOWN_PHASES = [
  'jobs',
  'realtime',
  'redis',
  'health-db',
  'main-db',
  'embedded-db',
  'logs',
] as const;
export type ShutdownPhase = (typeof SHUTDOWN_PHASES)[number];

export interface ShutdownHook {
  name: string;
  phase: ShutdownPhase;
  /** Upper bound for this hook; past it the hook is logged as hung and skipped. */
  timeoutMs?: number;
  close: () => Promise<void> | void;
}

export type HookOutcome = 'ok' | 'failed' | 'timeout';
export interface ShutdownReport {
  reason: string;
  /** True when anything had to be cut: a hook failed or hung, or requests were still running at the bound. */
  forced: boolean;
  hooks: { name: string; phase: ShutdownPhase; outcome: HookOutcome; ms: number }[];
  abandonedRequests: number;
}

export interface ShutdownOptions {
  /** Overrides SHUTDOWN_DRAIN_DELAY_MS for this run. */
  drainDelayMs?: number;
  /** Lowers SHUTDOWN_TIMEOUT_MS for this run (the supervisor's kill deadline). */
  timeoutMs?: number;
  /** Serve requests on still-open sockets (with Connection: close) instead of answering 503. */
  serveDuringDrain?: boolean;
}

export type ShutdownState = 'running' | 'draining' | 'closing' | 'closed';

export interface ShutdownRegistryOptions {
  drainDelayMs: number;
  timeoutMs: number;
  hookTimeoutMs: number;
}

/**
 * One place that knows how the process comes down: readiness flips at once, load balancers
 * get `drainDelayMs` to stop routing, HTTP drains within `timeoutMs`, then every registered
 * resource closes in phase order, each bounded, each at most once.
 */
export class ShutdownRegistry implements BeforeApplicationShutdown {
  private readonly hooks: ShutdownHook[] = [];
  private readonly drainListeners = new Set<() => void>();
  private stateValue: ShutdownState = 'running';
  private refusingRequests = false;
  private running: Promise<ShutdownReport> | null = null;
  private drainer: HttpDrainer | null = null;
  private inFlight = 0;

  constructor(
    private readonly options: ShutdownRegistryOptions,
    private readonly logger: Logger,
  ) {}

  get state(): ShutdownState {
    return this.stateValue;
  }

  /** From the first moment of shutdown: readiness answers `shutting_down`. */
  get draining(): boolean {
    return this.stateValue !== 'running';
  }

  /** After the drain delay: new requests on kept-alive sockets get 503 SHUTTING_DOWN. */
  get refusing(): boolean {
    return this.refusingRequests;
  }

  get activeRequests(): number {
    return this.inFlight;
  }

  register(hook: ShutdownHook): () => void {
    const wrapped: ShutdownHook = { ...hook, close: once(hook.close) };
    this.hooks.push(wrapped);
    return () => {
      const index = this.hooks.indexOf(wrapped);
      if (index !== -1) this.hooks.splice(index, 1);
    };
  }

  /** Called as shutdown starts, before anything closes (SSE streams say goodbye here). */
  onDrainStart(listener: () => void): () => void {
    this.drainListeners.add(listener);
    return () => this.drainListeners.delete(listener);
  }

  /** The listening server, so shutdown can stop accepting and wait for in-flight requests. */
  attachHttpServer(server: Server): void {
    this.drainer = trackHttpServer(server);
    server.on('request', (_req, res) => {
      this.inFlight += 1;
      // A response closes once; a plain listener spares once()'s wrapper and removal per request.
      res.on('close', () => {
        this.inFlight -= 1;
      });
    });
  }

  beforeApplicationShutdown(signal?: string): Promise<ShutdownReport> {
    return this.shutdown(signal ?? 'application close');
  }

  /**
   * Idempotent: every caller gets the same run. `options` shape only the first run: SIGTERM
   * uses the configured drain; the cluster supervisor asks for no delay (it has already taken
   * the worker out of rotation) and for requests on open sockets to be served, not refused.
   */
  shutdown(reason: string, options: ShutdownOptions = {}): Promise<ShutdownReport> {
    this.running ??= this.run(reason, options);
    return this.running;
  }

  private async run(reason: string, options: ShutdownOptions): Promise<ShutdownReport> {
    const started = Date.now();
    const drainDelayMs = options.drainDelayMs ?? this.options.drainDelayMs;
    const timeoutMs = Math.min(this.options.timeoutMs, options.timeoutMs ?? Number.POSITIVE_INFINITY);
    this.stateValue = 'draining';
    this.logger.info({ reason, drainDelayMs }, 'shutdown started: readiness now reports shutting_down');
    for (const listener of this.drainListeners) safely(listener, this.logger, 'drain listener');

    // No await before the drain when there is no delay: a supervisor's disconnect follows its
    // shutdown message at once, and the listener must be closed by then.
    if (drainDelayMs > 0) await delay(drainDelayMs);
    const abandonedRequests = await this.drainHttp(timeoutMs, options.serveDuringDrain === true);

    this.stateValue = 'closing';
    const report: ShutdownReport = { reason, forced: abandonedRequests > 0, hooks: [], abandonedRequests };
    for (const phase of SHUTDOWN_PHASES) {
      const hooks = this.hooks.filter((hook) => hook.phase === phase);
      const results = await Promise.all(hooks.map((hook) => this.runHook(hook)));
      report.hooks.push(...results);
    }
    report.forced ||= report.hooks.some((hook) => hook.outcome !== 'ok');
    this.stateValue = 'closed';
    this.logger.info(
      { reason, forced: report.forced, ms: Date.now() - started, hooks: report.hooks.length },
      report.forced ? 'shutdown finished with forced steps' : 'shutdown finished cleanly',
    );
    return report;
  }

  /**
   * Stops accepting, then lets each connection end on its own terms: a socket with a request
   * in flight closes after its response (`Connection: close`), an idle one after a short grace
   * (closing idle sockets at once would reset a client that is just sending on one).
   */
  private async drainHttp(timeoutMs: number, serve: boolean): Promise<number> {
    if (!this.drainer) return 0;
    this.refusingRequests = !serve;
    const inFlightAtStart = this.inFlight;
    const result = await this.drainer.drain({ timeoutMs, idleGraceMs: IDLE_GRACE_MS });
    if (result.timedOut) {
      this.logger.warn(
        { connections: result.forced, inFlightAtStart, timeoutMs },
        'shutdown: connections still open at the bound were closed',
      );
    }
    return result.timedOut ? Math.max(result.forced, this.inFlight) : 0;
  }

  private async runHook(hook: ShutdownHook): Promise<ShutdownReport['hooks'][number]> {
    const bound = hook.timeoutMs ?? this.options.hookTimeoutMs;
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    let outcome: HookOutcome;
    try {
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), bound);
      });
      const result = await Promise.race([Promise.resolve().then(hook.close).then(() => 'ok' as const), timeout]);
      outcome = result;
      if (outcome === 'timeout') {
        this.logger.error({ hook: hook.name, phase: hook.phase, timeoutMs: bound }, 'shutdown hook hung past its bound; skipped');
      }
    } catch (error) {
      outcome = 'failed';
      this.logger.error({ hook: hook.name, phase: hook.phase, err: error }, 'shutdown hook failed; continuing with the rest');
    } finally {
      clearTimeout(timer);
    }
    return { name: hook.name, phase: hook.phase, outcome, ms: Date.now() - started };
  }
}

/** How long an idle kept-alive socket may still carry one request after draining begins. */
const IDLE_GRACE_MS = 300;

function once(fn: () => Promise<void> | void): () => Promise<void> {
  let result: Promise<void> | null = null;
  return () => {
    result ??= Promise.resolve().then(fn);
    return result;
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function safely(fn: () => void, logger: Logger, what: string): void {
  try {
    fn();
  } catch (error) {
    logger.error({ err: error }, `${what} threw during shutdown`);
  }
}

