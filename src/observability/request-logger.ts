import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { infoLineWriter } from './logger.js';
import { redactString } from './redact.js';
import { requestContext } from './request-context.js';
import { errorCodeOf, routeTemplateOf } from './route-template.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Express's own extension point
  namespace Express {
    interface Request {
      /** The root logger, set below; the request's ids come from its context. */
      log?: Logger;
    }
  }
}

type LoggedResponse = Response & { err?: Error };

/** Probes and scrapes arrive every few seconds from every replica: successful ones are noise. */
const QUIET_PREFIXES = ['/health', '/metrics'];

function pathOnly(url: string): string {
  // Query strings carry search terms and sometimes tokens; the route template says enough.
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * One line per request when it ends: method, path, route template, status, latency, the
 * contract `errorCode` of every 4xx/5xx answer, and (from
 * the request context) correlation id and user. Nothing else: a header dump per line costs
 * more throughput than the rest of the stack together. `req.log` is the root logger, for code
 * that expects one; the context supplies the ids.
 *
 * A successful answer's line (info) is written as JSON text straight to pino's destination
 * (see infoLineWriter): every request pays for it. Failures and aborted requests go through
 * pino itself, so their warn and error lines feed the console's recent errors as before.
 */
export function requestLogger(logger: Logger) {
  const writeInfo = infoLineWriter(logger);
  return (req: Request, res: LoggedResponse, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    const url = req.originalUrl ?? req.url;
    // Taken now: 'close' may fire outside the request's async context. The session names the
    // user on this same object later (requestContext.setUser).
    const context = requestContext.current();
    req.log = logger;
    // 'close' follows 'finish' on every answered request and also ends one the client
    // abandoned: one listener sees both.
    res.on('close', () => {
      const status = res.statusCode;
      const aborted = !res.writableFinished;
      const route = routeTemplateOf(req);
      // Seen at debug (a runtime log level, PUT /admin/api/log-level), when someone asks.
      if (status < 400 && !aborted && QUIET_PREFIXES.some((prefix) => url.startsWith(prefix))) return void logger.debug({ route, res: { statusCode: status } }, `${req.method} ${route ?? 'unmatched'} ${status}`);
      const responseTimeMs = Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10;
      const path = redactString(pathOnly(url));
      if (writeInfo !== null && status < 400 && !aborted && res.err === undefined) {
        // The members of the object below as pino would serialise them (the mixin's ids first),
        // every string through redactString as the log formatter would put it.
        let fields = '';
        if (context) {
          fields = `,"correlationId":${JSON.stringify(redactString(context.correlationId))}`;
          const user = context.userId;
          if (user !== undefined) fields += `,"userId":${JSON.stringify(typeof user === 'string' ? redactString(user) : user)}`;
        }
        fields += `,"req":{"method":${JSON.stringify(req.method)},"url":${JSON.stringify(path)}},"res":{"statusCode":${status}},"route":${JSON.stringify(route === null ? null : redactString(route))},"responseTimeMs":${responseTimeMs}`;
        writeInfo(fields, `${req.method} ${route ?? 'unmatched'} ${status}`);
        return;
      }
      const line: Record<string, unknown> = {
        req: { method: req.method, url: path },
        res: { statusCode: status },
        route,
        ...(status >= 400 ? { errorCode: errorCodeOf(res) } : {}),
        responseTimeMs,
      };
      if (context) {
        line.correlationId = context.correlationId;
        if (context.userId !== undefined) line.userId = context.userId;
      }
      if (aborted) line.aborted = true;
      if (res.err) line.err = res.err;
      const msg = `${req.method} ${route ?? 'unmatched'} ${status}${aborted ? ' (client went away)' : ''}`;
      if (status >= 500 || res.err) logger.error(line, msg);
      else if (status >= 400 || aborted) logger.warn(line, msg);
      else logger.info(line, msg);
    });
    next();
  };
}

/** A request admission control refused before Express saw it (structurally its `Refusal`). */
export interface RefusedRequest {
  req: IncomingMessage;
  lane: string;
  reason: string;
  correlationId: string;
  /** Time spent in the admission queue before the refusal; 0 when refused on arrival. */
  ms: number;
}

/** Refusals logged one by one per second and worker; the rest of that second are counted. */
export const REFUSAL_LINES_PER_SECOND = 100;

/**
 * The access-log line of a request admission control refused: it never reached Express, so
 * `requestLogger` did not see it. No route template (finding it is routing work the refusal
 * avoids); `errorCode` OVERLOADED with the lane and the reason. Warn, not error: shedding is
 * the designed answer to overload, and its start and end have their own lines. A storm would
 * make every refusal cost a log line (~12 us, a tenth of the refusal budget at 4x) and flood
 * the pipeline, so past `perSecond` lines in a second the rest are counted and reported in one
 * line when the second ends (the metrics count every refusal).
 */
export function refusalLogger(logger: Logger, perSecond = REFUSAL_LINES_PER_SECOND, now: () => number = Date.now) {
  let second = 0;
  let logged = 0;
  let unlogged = 0;
  const summarise = () => {
    if (unlogged > 0) logger.warn({ errorCode: 'OVERLOADED', res: { statusCode: 503 }, refusedUnlogged: unlogged, perSecond }, `${unlogged} more requests refused 503 in that second (not logged one by one)`);
    unlogged = 0;
  };
  return ({ req, lane, reason, correlationId, ms }: RefusedRequest): void => {
    const at = Math.floor(now() / 1000);
    if (at !== second) {
      summarise();
      second = at;
      logged = 0;
    }
    if (logged >= perSecond) {
      if (unlogged === 0) setTimeout(summarise, 1000 - (now() % 1000)).unref();
      unlogged += 1;
      return;
    }
    logged += 1;
    const method = req.method ?? 'GET';
    logger.warn(
      {
        req: { method, url: redactString(pathOnly(req.url ?? '/')) },
        res: { statusCode: 503 },
        route: null,
        errorCode: 'OVERLOADED',
        admission: { lane, reason },
        responseTimeMs: Math.round(ms * 10) / 10,
        correlationId,
      },
      `${method} refused 503`,
    );
  };
}
