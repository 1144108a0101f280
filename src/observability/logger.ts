import type { IncomingMessage, ServerResponse } from 'node:http';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { Options as PinoHttpOptions } from 'pino-http';
import { redactDeep, redactError, redactString } from './redact.js';

export interface RootLoggerOptions {
  level: string;
  /** Tests pass their own stream; production writes to stdout asynchronously. */
  destination?: DestinationStream;
  base?: Record<string, unknown>;
}

/**
 * The one pino instance. Built before Nest so embedded PostgreSQL, migrations and config
 * problems log through the same redaction as requests do.
 */
export function createRootLogger(options: RootLoggerOptions): Logger {
  const destination = options.destination ?? pino.destination({ dest: 1, sync: false });
  return pino(
    {
      level: options.level,
      base: options.base ?? { pid: process.pid },
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'req.headers["x-csrf-token"]',
          'res.headers["set-cookie"]',
          '*.password',
          '*.passwordHash',
        ],
        censor: '[REDACTED]',
      },
      serializers: {
        err: (err: unknown) => (err instanceof Error ? redactError(err) : redactDeep(err)),
        error: (err: unknown) => (err instanceof Error ? redactError(err) : redactDeep(err)),
      },
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redactDeep(object) as Record<string, unknown>,
      },
      hooks: {
        // Messages and printf-style arguments are strings the formatters never see.
        logMethod(args, method) {
          const cleaned = args.map((arg) => (typeof arg === 'string' ? redactString(arg) : arg));
          method.apply(this, cleaned as Parameters<typeof method>);
        },
      },
    },
    destination,
  );
}

interface RoutedRequest extends IncomingMessage {
  route?: { path?: string };
  user?: { id?: string | number };
  originalUrl?: string;
}

/**
 * Request logging that carries what an operator needs and no more: a full header dump per
 * line costs more throughput than the rest of the stack together.
 */
export function httpLoggerOptions(logger: Logger): PinoHttpOptions {
  return {
    logger,
    quietReqLogger: true,
    customAttributeKeys: { reqId: 'correlationId', responseTime: 'responseTimeMs' },
    wrapSerializers: false,
    serializers: {
      req: (req: RoutedRequest) => ({ method: req.method, url: redactString(pathOnly(req.originalUrl ?? req.url ?? '')) }),
      res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
      err: (err: unknown) => (err instanceof Error ? redactError(err) : redactDeep(err)),
    },
    customProps: (req) => {
      const userId = (req as RoutedRequest).user?.id;
      return userId === undefined ? {} : { userId };
    },
    customSuccessObject: (req, _res, value: Record<string, unknown>) => ({
      ...value,
      route: routeTemplate(req as RoutedRequest),
    }),
    customErrorObject: (req, _res, _err, value: Record<string, unknown>) => ({
      ...value,
      route: routeTemplate(req as RoutedRequest),
    }),
    customLogLevel: (req, res, err) => {
      if (err || res.statusCode >= 500) return 'error';
      if (res.statusCode >= 400) return 'warn';
      // Probes and scrapes arrive every few seconds from every replica: successful ones are noise.
      const url = req.url ?? '';
      return url.startsWith('/health') || url.startsWith('/metrics') ? 'silent' : 'info';
    },
    customSuccessMessage: (req, res) => `${req.method} ${routeTemplate(req as RoutedRequest) ?? 'unmatched'} ${res.statusCode}`,
    customErrorMessage: (req, res) => `${req.method} ${routeTemplate(req as RoutedRequest) ?? 'unmatched'} ${res.statusCode}`,
  };
}

function pathOnly(url: string): string {
  // Query strings carry search terms and sometimes tokens; the route template says enough.
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

export function routeTemplate(req: RoutedRequest): string | null {
  return req.route?.path ?? null;
}
