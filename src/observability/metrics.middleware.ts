import type { NextFunction, Request, Response } from 'express';
import type { MetricsService } from './metrics.service.js';
import type { TelemetryRecorder } from './telemetry.js';
import { errorCodeOf, routeTemplateOf } from './route-template.js';

/**
 * Times every request. The label is the matched route template (never the raw path, which
 * would give every lot id its own series); unmatched requests share one label.
 */
export function metricsMiddleware(metrics: MetricsService, telemetry?: TelemetryRecorder) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    // 'close' follows 'finish' on every answered request; a plain listener costs less than
    // once()'s wrapper and removal. Abandoned requests are not timed, as before.
    res.on('close', () => {
      if (!res.writableFinished) return;
      const route = routeTemplateOf(req) ?? 'unmatched';
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.observeRequest(req.method, route, res.statusCode, seconds);
      const code = errorCodeOf(res);
      if (code !== null) metrics.countError(code, route);
      telemetry?.observeRequest(res.statusCode, seconds * 1000, code);
    });
    next();
  };
}
