import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Request, Response } from 'express';
import type { DestinationStream, Logger } from 'pino';
import { setupApiDocs } from './api-docs/api-docs.module.js';
import { AppModule } from './app.module.js';
import { loadConfig } from './config/env.js';
import type { RampartConfig } from './config/rampart-config.js';
import { sendError } from './core/all-exceptions.filter.js';
import { ShuttingDownException } from './core/errors/index.js';
import { describeStartupError } from './core/startup-error.js';
import { startEmbeddedPostgres } from './database/embedded-postgres.js';
import { runMigrations } from './database/migrate.js';
import { firstStart } from './database/seed/first-start.js';
import { createWorkerChannel, type WorkerChannel } from './cluster/worker-channel.js';
import { join } from 'node:path';
import expressModule from 'express';
import { PROJECT_ROOT } from './project-root.js';
import { MetricsService } from './observability/metrics.service.js';
import { metricsMiddleware } from './observability/metrics.middleware.js';
import { correlationMiddleware } from './observability/correlation.js';
import { middlewareChain } from './core/middleware-chain.js';
import { createRootLogger } from './observability/logger.js';
import { TelemetryRecorder } from './observability/telemetry.js';
import { BreakerService, MAIN_DB_BREAKER } from './resilience/breaker.service.js';
import { refusalLogger, requestLogger } from './observability/request-logger.js';
import { NestLogger } from './observability/nest-logger.js';
import { LogLevelControl } from './observability/log-level.js';
import { ShutdownRegistry, type ShutdownOptions, type ShutdownReport } from './resilience/shutdown-registry.service.js';
import { AdmissionController } from './resilience/admission/admission-controller.js';
import { PoolManager } from './database/pool-manager.js';
import { CsrfMiddleware } from './security/csrf/csrf.middleware.js';
import { jsonBodiesOnly } from './security/csrf/json-bodies-only.middleware.js';
import { cspReportBodyParser } from './security/csp/csp-report.body-parser.js';
import { bodyParsers } from './security/input/body-parsers.js';
import { buildSecurityHeaders, CSP_REPORT_PATH, securityHeadersMiddleware } from './security/csp/security-headers.js';
import { installClientIp } from './security/ip/client-ip.js';
import { allowedHostsMiddleware } from './security/hosts/allowed-hosts.js';
import { sessionCacheHeaders } from './security/cache/no-store.js';
import { TrustedProxies } from './security/ip/trusted-proxies.js';
import { SessionMiddleware } from './security/session/session.middleware.js';
import type { Runtime } from './runtime.js';
import { VERSION } from './version.js';

export interface StartOptions {
  env: Record<string, string | undefined>;
  /** Tests capture logs; the process writes to stdout. */
  logDestination?: DestinationStream;
}

export interface RunningApp {
  app: NestExpressApplication;
  config: RampartConfig;
  logger: Logger;
  registry: ShutdownRegistry;
  url: string;
  port: number;
  channel: WorkerChannel;
  /** Drains and tears everything down once; later calls get the same report. */
  close(reason?: string, options?: ShutdownOptions): Promise<ShutdownReport>;
}

/**
 * Starts one Rampart worker: config, logger, database (embedded when no DATABASE_URL),
 * migrations under the advisory lock, then Nest on HOST:PORT. Every failure here is fatal;
 * what was already started is torn down before the error propagates.
 */
export async function startApp(options: StartOptions): Promise<RunningApp> {
  const { config, warnings } = loadConfig(options.env, VERSION);
  const telemetry = new TelemetryRecorder();
  const logger = createRootLogger({ level: config.app.logLevel, destination: options.logDestination, onWarnLine: (line) => telemetry.recordLogLine(line) });
  for (const warning of warnings) logger.warn(warning);
  const registry = new ShutdownRegistry(config.resilience.shutdown, logger);
  registry.register({ name: 'flush-logs', phase: 'logs', close: () => new Promise<void>((resolve) => logger.flush(() => resolve())) });

  try {
    let databaseUrl = config.database.url;
    if (!databaseUrl) {
      const embedded = await startEmbeddedPostgres({ dataDir: config.app.dataDir, port: config.database.embeddedPort, logger });
      registry.register({ name: 'embedded-postgres', phase: 'embedded-db', timeoutMs: 15_000, close: () => embedded.stop() });
      databaseUrl = embedded.url;
    }
    // The target helps an operator spot a wrong host; the logger scrubs the password out of it.
    logger.info({ database: databaseUrl }, 'connecting to PostgreSQL');
    const publicUrl = `http://${config.app.host.includes(':') ? `[${config.app.host}]` : config.app.host}:${config.app.port}`;
    await runMigrations({
      url: databaseUrl,
      connectTimeoutMs: config.database.connectTimeoutMs,
      keepAliveIdleMs: config.database.keepAliveIdleMs,
      logger,
      afterMigrations: (dataSource) =>
        firstStart(dataSource, {
          seedLots: config.database.seedLots,
          adminUsername: config.database.adminUsername,
          adminPassword: config.database.adminPassword,
          isProduction: config.app.isProduction,
          url: publicUrl,
          logger,
        }),
    });

    const channel = createWorkerChannel({
      single: { churnWindowS: config.cluster.churnWindowS, churnMax: config.cluster.churnMax, cooldownS: config.cluster.cooldownS },
    });
    registry.register({ name: 'worker-channel', phase: 'logs', close: () => channel.close() });
    channel.setTelemetrySource(telemetry);
    const logLevel = new LogLevelControl(logger, config.app.logLevel);
    channel.onLogLevel((change) => logLevel.apply(change));
    registry.register({ name: 'log-level', phase: 'logs', close: () => logLevel.close() });
    const runtime: Runtime = { config, logger, registry, databaseUrl, embedded: !config.database.url, channel, logLevel, telemetry };
    const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(runtime), {
      bodyParser: false,
      logger: new NestLogger(logger),
      abortOnError: false,
    });
    configureHttp(app, runtime);
    setupApiDocs(app, config.app.apiDocs, config.app.version);
    await app.listen(config.app.port, config.app.host);
    const server = app.getHttpServer() as Server;
    // Longer than common load-balancer idle timeouts, so the balancer closes idle sockets first.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    registry.attachHttpServer(server);
    // Counted for WORKER_MAX_REQUESTS recycling (the supervisor reads it from heartbeats).
    server.on('request', () => channel.countRequest());
    const port = (server.address() as AddressInfo).port;
    const url = `http://${config.app.host.includes(':') ? `[${config.app.host}]` : config.app.host}:${port}`;
    logger.info({ url, embeddedDatabase: runtime.embedded, version: config.app.version, mode: channel.mode }, `Rampart listening on ${url}`);
    // Application-level readiness for the supervisor: database, Redis and migrations are done.
    channel.notifyReady();

    let closing: Promise<ShutdownReport> | null = null;
    return {
      app,
      config,
      logger,
      registry,
      url,
      port,
      channel,
      close: (reason = 'close', options = {}) => {
        closing ??= (async () => {
          const report = await registry.shutdown(reason, options);
          await app.close().catch((error: unknown) => logger.warn({ err: error }, 'nest close reported an error'));
          return report;
        })();
        return closing;
      },
    };
  } catch (error) {
    logger.fatal({ err: error }, `startup failed: ${describeStartupError(error)}`);
    await registry.shutdown('startup failed');
    throw error;
  }
}

const TELEMETRY_SAMPLE_MS = 2000;

const CONSOLE_ASSET_DIRS = ['src/admin/console', 'libs/api-client/src'];

function configureHttp(app: NestExpressApplication, runtime: Runtime): void {
  const { config, logger, registry } = runtime;
  const express = app.getHttpAdapter().getInstance() as import('express').Express;
  express.disable('x-powered-by');
  // Dynamic answers are no-store (or probes and scrapes nobody revalidates; the favicon, the one
  // cacheable exception, is re-sent whole after its day), so an ETag would not be sent back;
  // Express would hash each body for it (SHA-1) and hand Node the body as a separate buffer.
  // Static assets keep theirs: serve-static makes its own.
  express.set('etag', false);
  // req.ip (and req.protocol/secure) follow TRUSTED_PROXIES everywhere, rate limits included.
  installClientIp(express, app.get(TrustedProxies).trust);
  const admission = app.get(AdmissionController);
  const pool = app.get(PoolManager);
  const breaker = app.get<BreakerService>(MAIN_DB_BREAKER);
  const sampleTelemetry = () => {
    const stats = pool.stats();
    runtime.telemetry.sample({ poolSaturation: stats.saturation, poolWaiting: stats.waiting, breakerState: breaker.snapshot().state });
  };
  sampleTelemetry();
  // Gauges for the console's charts; a few samples per 10 s bucket catch most spikes.
  const sampler = setInterval(sampleTelemetry, TELEMETRY_SAMPLE_MS);
  sampler.unref();
  registry.register({ name: 'telemetry-sampler', phase: 'jobs', close: () => clearInterval(sampler) });
  // Long waits for a connection mean more admitted work would only queue in the pool; the
  // pool's own size is as far as that alone lowers the limit.
  admission.watchPool(pool.stats().max, config.database.poolTimeoutMs);
  pool.observe({ connectionWait: (seconds) => admission.poolWaited(seconds * 1000), query: () => undefined });
  // Admission control is the server's request listener, in front of Express: a refusal is
  // answered before Express wraps the request, routes it or runs any middleware, so it costs
  // little more than Node's HTTP parsing and the write (at 4x, thousands a second share the
  // loop with the admitted work). It sets its own correlation id; refusals reach the access
  // log and the RED metrics here.
  const server = app.getHttpServer() as Server;
  const handlers = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  if (handlers.length !== 1) throw new Error(`expected Express as the only request listener, found ${handlers.length}`);
  server.removeAllListeners('request');
  server.on('request', admission.gate(handlers[0]!));
  const metrics = app.get(MetricsService);
  const logRefusal = refusalLogger(logger);
  admission.onRefused((refusal) => {
    logRefusal(refusal);
    metrics.countRefusal(refusal.req.method ?? 'GET', refusal.ms / 1000);
    runtime.telemetry.observeRequest(503, refusal.ms, 'OVERLOADED');
  });
  // Order matters: the correlation id exists before anything can fail, and the request
  // logger sees body-parser failures too. Each group is one layer (see middlewareChain).
  app.use(
    middlewareChain<Request, Response>([
      correlationMiddleware,
      // Security headers are computed here once; per response only the CSP nonce is new.
      securityHeadersMiddleware(buildSecurityHeaders({ cspMode: config.security.cspMode, hsts: config.app.isProduction })),
      sessionCacheHeaders,
      requestLogger(logger),
      metricsMiddleware(metrics, runtime.telemetry),
      // Before routing, static files included: DNS rebinding must not reach any path.
      allowedHostsMiddleware(config.security.allowedHosts, app.get(TrustedProxies).trust),
      (req, res, next) => {
        if (!registry.draining) return next();
        // From the first moment of shutdown no socket is kept alive, so none is idle (and
        // racing a client's next request) when the server finally closes.
        res.setHeader('Connection', 'close');
        if (!registry.refusing) return next();
        sendError(new ShuttingDownException(), req, res, logger);
      },
    ]),
  );
  // The console's browser modules (compiled TypeScript): public code, no session needed.
  for (const dir of CONSOLE_ASSET_DIRS) app.use(`/assets/${dir}`, expressModule.static(join(PROJECT_ROOT, 'dist', dir), { index: false, fallthrough: false }));
  // Before the app-wide parsers: its own media types and a 16 KB limit.
  app.use(CSP_REPORT_PATH, cspReportBodyParser());
  app.use(
    middlewareChain<Request, Response>([
      // JSON endpoints refuse other bodies before anything parses them (a cross-site
      // text/plain form is a "simple" request that skips CORS preflight).
      jsonBodiesOnly,
      // Per-route size limits, UTF-8 only, JSON bounded in depth, keys and array length.
      ...bodyParsers(config.app.bodyLimit),
      // Sessions only on /api, /admin and /login; CSRF needs both the session and the
      // parsed `_csrf` form field, so it comes last, before any guard or handler.
      app.get(SessionMiddleware).handle,
      app.get(CsrfMiddleware).handle,
    ]),
  );
}
