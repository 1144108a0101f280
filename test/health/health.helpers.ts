import { Agent, request } from 'node:http';
import type { HealthPayload } from '../../src/health/health.service.js';

export interface HealthResponse {
  status: number;
  body: HealthPayload;
  setCookie: string[];
  cacheControl: string | null;
  ms: number;
}

export async function getHealth(baseUrl: string, path: string): Promise<HealthResponse> {
  const started = performance.now();
  const response = await fetch(`${baseUrl}${path}`);
  const body = (await response.json()) as HealthPayload;
  return {
    status: response.status,
    body,
    setCookie: response.headers.getSetCookie(),
    cacheControl: response.headers.get('cache-control'),
    ms: performance.now() - started,
  };
}

export const HEALTH_PATHS = ['/health/live', '/health/ready', '/health', '/health/deep'] as const;

/** The strings of `forbidden` that occur in any of the payloads (case-insensitive). */
export function leakedStrings(payloads: unknown[], forbidden: string[]): string[] {
  const text = payloads.map((p) => JSON.stringify(p)).join('\n').toLowerCase();
  return forbidden.filter((needle) => needle !== '' && text.includes(needle.toLowerCase()));
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * `count` GETs started together. Node's http agent caps the sockets (a burst of 1000 fresh
 * connections would overflow the listen backlog and measure the kernel, not the app); the
 * requests beyond the cap queue in the client, still all in flight at once.
 */
export async function burst(url: string, count: number, sockets = 100): Promise<{ statuses: number[]; bodies: HealthPayload[]; ms: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: sockets });
  const started = performance.now();
  try {
    const results = await Promise.all(
      Array.from(
        { length: count },
        () =>
          new Promise<{ status: number; body: HealthPayload }>((resolve, reject) => {
            const req = request(url, { agent }, (res) => {
              let data = '';
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => (data += chunk));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) as HealthPayload }));
              res.on('error', reject);
            });
            req.on('error', reject);
            req.end();
          }),
      ),
    );
    return { statuses: results.map((r) => r.status), bodies: results.map((r) => r.body), ms: performance.now() - started };
  } finally {
    agent.destroy();
  }
}
