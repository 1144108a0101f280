import type { FetchLike } from '@rampart/api-client';
import { MetricsService } from '../../src/observability/metrics.service.js';
import type { TestApp } from '../support/app.js';

/** What a browser adds to the client's requests, and a record of every send. */
export interface BrowserWire {
  fetch: FetchLike;
  /** Every request handed to the network, in order, with the client-side send time (epoch ms). */
  sent: { method: string; path: string; at: number }[];
  /** Current cookies, name to value. */
  cookies: Map<string, string>;
  /** Sends of one method and path (without query). */
  count(method: string, path: string): number;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Node's fetch has no cookie jar and sends no Origin; a browser does both. This wrapper keeps
 * the `Set-Cookie`s it sees (expired or emptied ones removed), sends them back, and sets
 * `Origin` to the app's origin on unsafe methods, as a same-origin page would.
 */
export function browserWire(baseUrl: string): BrowserWire {
  const origin = new URL(baseUrl).origin;
  const cookies = new Map<string, string>();
  const sent: BrowserWire['sent'] = [];
  const fetchLike: FetchLike = async (input, init) => {
    const url = new URL(input);
    const method = (init.method ?? 'GET').toUpperCase();
    const headers = new Headers(init.headers);
    if (cookies.size > 0) headers.set('cookie', [...cookies].map(([name, value]) => `${name}=${value}`).join('; '));
    if (UNSAFE.has(method)) headers.set('origin', origin);
    sent.push({ method, path: url.pathname, at: Date.now() });
    const response = await fetch(input, { ...init, headers });
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => {
        const [key = '', val = ''] = a.split('=').map((s) => s.trim());
        if (key.toLowerCase() === 'max-age') return Number(val) <= 0;
        if (key.toLowerCase() === 'expires') return Date.parse(val) <= Date.now();
        return false;
      });
      if (expired || value === '') cookies.delete(name);
      else cookies.set(name, value);
    }
    return response;
  };
  return {
    fetch: fetchLike,
    sent,
    cookies,
    count: (method, path) => sent.filter((s) => s.method === method && s.path === path).length,
  };
}

export interface ServerHit {
  method: string;
  path: string;
  status: number;
  /** When the response was logged (epoch ms). */
  at: number;
  /** When the request arrived: `at - responseTimeMs`. */
  arrivedAt: number;
  route: string | null;
}

export interface HitFilter {
  method?: string;
  /** Path without query. */
  path?: string | readonly string[];
  /** Only log lines from this index on (take it from `logMark(app)`). */
  since?: number;
}

/** The index of the app's next log line, to count only what happens after it. */
export const logMark = (app: TestApp) => app.logs.lines.length;

/**
 * Requests the app answered, from its own per-response log lines (`req`, `res`,
 * `responseTimeMs`): the server-side count, independent of what the client thinks it sent.
 */
export function serverHits(app: TestApp, filter: HitFilter = {}): ServerHit[] {
  const hits: ServerHit[] = [];
  const paths = filter.path === undefined ? null : new Set(typeof filter.path === 'string' ? [filter.path] : filter.path);
  for (const line of app.logs.lines.slice(filter.since ?? 0)) {
    const entry = JSON.parse(line) as Record<string, unknown>;
    const req = entry.req as { method?: string; url?: string } | undefined;
    const res = entry.res as { statusCode?: number } | undefined;
    if (req?.method === undefined || req.url === undefined || res?.statusCode === undefined || typeof entry.responseTimeMs !== 'number') continue;
    if (filter.method !== undefined && req.method !== filter.method) continue;
    if (paths !== null && !paths.has(req.url)) continue;
    const at = Date.parse(String(entry.time));
    hits.push({
      method: req.method,
      path: req.url,
      status: res.statusCode,
      at,
      arrivedAt: at - entry.responseTimeMs,
      route: typeof entry.route === 'string' ? entry.route : null,
    });
  }
  return hits;
}

/** A second server-side witness: `http_request_duration_seconds_count` summed over status codes. */
export async function histogramCount(app: TestApp, method: string, route: string): Promise<number> {
  const metric = await app.app.get(MetricsService).httpDuration.get();
  return metric.values
    .filter((v) => v.metricName === 'http_request_duration_seconds_count' && v.labels.method === method && v.labels.route === route)
    .reduce((sum, v) => sum + v.value, 0);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Lets the app write the log lines of responses the client has already read. */
export const settle = () => sleep(50);
