import pino, { type DestinationStream, type Logger } from 'pino';
import { redactDeep, redactError, redactString } from './redact.js';
import { requestContext } from './request-context.js';
import { isWarnOrWorse } from './telemetry.js';

export interface RootLoggerOptions {
  level: string;
  /** Tests pass their own stream; production writes to stdout asynchronously. */
  destination?: DestinationStream;
  base?: Record<string, unknown>;
  /** Each serialized warn/error/fatal line, after redaction (the console's recent-errors list). */
  onWarnLine?: (line: string) => void;
}

/**
 * The one pino instance. Built before Nest so embedded PostgreSQL, migrations and config
 * problems log through the same redaction as requests do.
 */
export function createRootLogger(options: RootLoggerOptions): Logger {
  const destination = options.destination ?? batchedDestination(1);
  return pino(
    {
      level: options.level,
      base: options.base ?? { pid: process.pid },
      messageKey: 'msg',
      timestamp: isoTime,
      // correlationId and userId of the request being served, if any (see request-context.ts).
      mixin: () => {
        const context = requestContext.current();
        if (!context) return {};
        return context.userId === undefined ? { correlationId: context.correlationId } : { correlationId: context.correlationId, userId: context.userId };
      },
      // Field masking (authorization, cookie, CSRF token, passwords) is done by the log
      // formatter below, together with credentials inside strings; pino's path-based `redact`
      // would be a second mechanism for the same job, paid on every line.
      serializers: {
        err: (err: unknown) => (err instanceof Error ? redactError(err) : redactDeep(err)),
        error: (err: unknown) => (err instanceof Error ? redactError(err) : redactDeep(err)),
      },
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redactDeep(object) as Record<string, unknown>,
      },
      hooks: {
        streamWrite(line) {
          if (options.onWarnLine && isWarnOrWorse(line)) options.onWarnLine(line);
          return line;
        },
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


/**
 * Lines gathered before one write (about 250 access lines): under load each asynchronous write
 * costs the event loop 20-170 us (copy, thread-pool hand-off), so fewer, larger ones. A
 * process killed outright (SIGKILL, OOM) loses what is gathered; an exit or a crash flushes it.
 */
const BATCH_CHARS = 65_536;
const BATCH_FLUSH_MS = 250;

/**
 * Stdout through pino's asynchronous destination (sonic-boom), lines gathered in front of it:
 * one write per 64 KB instead of one per line (a write syscall per request line was a tenth of
 * the CPU under load), and at least every 250 ms and at exit, so a quiet process still shows
 * its lines promptly. Gathered here rather than with sonic-boom's `minLength` because it
 * measures the UTF-8 length of its whole pending buffer on every write, which made each line
 * cost 1.5-2.5 us at 8 KB (more the larger the batch) against 0.2 us for an array and one
 * join; sonic-boom still does every write, retry, partial write and exit flush.
 */
export function batchedDestination(fd: number): DestinationStream & { flush(callback?: (error?: Error) => void): void; flushSync(): void } {
  const pending: string[] = [];
  let chars = 0;
  const handOver = (): void => {
    if (pending.length === 0) return;
    const chunk = pending.join('');
    pending.length = 0;
    chars = 0;
    sonic.write(chunk);
  };
  // Before the destination registers its own exit hooks, so these run first where they can;
  // the flush makes the order irrelevant at 'exit'.
  process.on('beforeExit', handOver);
  process.on('exit', () => {
    handOver();
    try {
      sonic.flushSync();
    } catch {
      // Closed or never opened (stdout gone): nothing more can be written at exit anyway.
    }
  });
  // minLength 1: every handed-over chunk is written at once, and flush(cb) still waits for it.
  const sonic = pino.destination({ dest: fd, sync: false, minLength: 1 });
  setInterval(handOver, BATCH_FLUSH_MS).unref();
  return {
    write(line: string): boolean {
      pending.push(line);
      chars += line.length;
      if (chars >= BATCH_CHARS) handOver();
      return true;
    },
    flush(callback?: (error?: Error) => void): void {
      handOver();
      sonic.flush(callback);
    },
    flushSync(): void {
      handOver();
      sonic.flushSync();
    },
  };
}

let isoMs = -1;
let isoText = '';

/**
 * pino's `stdTimeFunctions.isoTime`, the same text, built once per millisecond: a busy worker
 * writes several lines in one, and a Date and its ISO string per line showed in profiles.
 */
export function isoTime(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoText = `,"time":"${new Date(now).toISOString()}"`;
  }
  return isoText;
}

/** Writes one info line; false when info is off (nothing written). */
export type InfoLineWriter = (fields: string, msg: string) => boolean;

type PinoInternals = Record<symbol, unknown>;

/**
 * For the one line every request writes (the access log): the bytes `logger.info(obj, msg)`
 * writes under createRootLogger's options, without building the object, running the mixin,
 * walking it for redaction and serialising it generically (together a fifth of a small JSON
 * request's CPU). `fields` are the object's members as JSON, each starting with a comma, in
 * the order pino would write them (the mixin's ids first); the caller owns their redaction.
 * Only info lines: the hooks of warn and worse (the console's recent errors) stay pino's.
 * Returns null for a destination that needs pino's per-line metadata (a multistream).
 */
export function infoLineWriter(logger: Logger): InfoLineWriter | null {
  const internals = logger as unknown as PinoInternals;
  const { streamSym, chindingsSym, lsCacheSym, endSym, needsMetadataGsym } = pino.symbols;
  const stream = internals[streamSym] as DestinationStream & PinoInternals;
  if (stream[needsMetadataGsym] === true) return null;
  const info = logger.levels.values['info'] as number;
  return (fields, msg) => {
    if (logger.levelVal > info) return false;
    // Read per line: the level cache and the bindings belong to the logger, not to this writer.
    const level = (internals[lsCacheSym] as Record<number, string>)[info] as string;
    stream.write(`${level}${isoTime()}${internals[chindingsSym] as string}${fields},"msg":${JSON.stringify(redactString(msg))}${internals[endSym] as string}`);
    return true;
  };
}
