import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { Logger as NestPinoLogger } from 'nestjs-pino';
import type { DestinationStream, Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { AppModule } from './app.module.js';
import { loadConfig } from './config/env.js';
import type { RampartConfig } from './config/rampart-config.js';
import { sendError } from './core/all-exceptions.filter.js';
import { ShuttingDownException } from './core/errors/index.js';
import { setupOpenApi } from './core/openapi.js';
import { startEmbeddedPostgres } from './database/embedded-postgres.js';
import { runMigrations } from './database/migrate.js';
import { firstStart } from './database/seed/first-start.js';
import { correlationMiddleware } from './observability/correlation.js';
import { createRootLogger, httpLoggerOptions } from './observability/logger.js';
import { EarlyNestLogger } from './observability/nest-logger.js';
import { ShutdownRegistry, type ShutdownReport } from './resilience/shutdown-registry.service.js';
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
  /** Drains and tears everything down once; later calls get the same report. */
  close(reason?: string): Promise<ShutdownReport>;
}

/**
 * Starts one Rampart worker: config, logger, database (embedded when no DATABASE_URL),
 * migrations under the advisory lock, then Nest on HOST:PORT. Every failure here is fatal;
 * what was already started is torn down before the error propagates.
 */
export async function startApp(options: StartOptions): Promise<RunningApp> {
  const { config, warnings } = loadConfig(options.env, VERSION);
  const logger = createRootLogger({ level: config.app.logLevel, destination: options.logDestination });
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

    const runtime: Runtime = { config, logger, registry, databaseUrl, embedded: !config.database.url };
    const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(runtime), {
      bodyParser: false,
      logger: new EarlyNestLogger(logger),
      abortOnError: false,
    });
    app.useLogger(app.get(NestPinoLogger));
    configureHttp(app, runtime);
    setupOpenApi(app, config.app.version);
    await app.listen(config.app.port, config.app.host);
    const server = app.getHttpServer() as Server;
    // Longer than common load-balancer idle timeouts, so the balancer closes idle sockets first.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    registry.attachHttpServer(server);
    const port = (server.address() as AddressInfo).port;
    const url = `http://${config.app.host.includes(':') ? `[${config.app.host}]` : config.app.host}:${port}`;
    logger.info({ url, embeddedDatabase: runtime.embedded, version: config.app.version }, `Rampart listening on ${url}`);

    let closing: Promise<ShutdownReport> | null = null;
    return {
      app,
      config,
      logger,
      registry,
      url,
      port,
      close: (reason = 'close') => {
        closing ??= (async () => {
          const report = await registry.shutdown(reason);
          await app.close().catch((error: unknown) => logger.warn({ err: error }, 'nest close reported an error'));
          return report;
        })();
        return closing;
      },
    };
  } catch (error) {
    logger.fatal({ err: error }, 'startup failed');
    await registry.shutdown('startup failed');
    throw error;
  }
}

function configureHttp(app: NestExpressApplication, runtime: Runtime): void {
  const { config, logger, registry } = runtime;
  const express = app.getHttpAdapter().getInstance() as import('express').Express;
  express.disable('x-powered-by');
  // Order matters: the correlation id exists before anything can fail, and the request
  // logger sees body-parser failures too.
  app.use(correlationMiddleware);
  app.use(pinoHttp(httpLoggerOptions(logger)));
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (!registry.draining) return next();
    // From the first moment of shutdown no socket is kept alive, so none is idle (and racing
    // a client's next request) when the server finally closes.
    res.setHeader('Connection', 'close');
    if (!registry.refusing) return next();
    sendError(new ShuttingDownException(), req, res, logger);
  });
  app.useBodyParser('json', { limit: config.app.bodyLimit });
  app.useBodyParser('urlencoded', { limit: config.app.bodyLimit, extended: false });
}
