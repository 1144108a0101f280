/**
 * http-drain against a real listening server on 127.0.0.1 (in-process: no cluster needed for the
 * socket-level behaviour). The cross-process proof under load is in supervisor.test.ts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { trackHttpServer, type HttpDrainer } from '../../src/cluster/http-drain.js';
import { request, sleep } from './support/primary-process.js';

interface Harness {
  server: http.Server;
  drainer: HttpDrainer;
  port: number;
}

async function serve(): Promise<Harness> {
  const server = http.createServer({ keepAlive: true, keepAliveTimeout: 30_000 }, (req, res) => {
    const delay = req.url === '/slow' ? 300 : req.url === '/hang' ? 60_000 : 0;
    const timer = setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, url: req.url }));
    }, delay);
    res.once('close', () => clearTimeout(timer));
  });
  const drainer = trackHttpServer(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, drainer, port: (server.address() as AddressInfo).port };
}

function get(port: number, path: string, agent: http.Agent): Promise<{ status: number; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

describe('trackHttpServer().drain', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  function agent(): http.Agent {
    const a = new http.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => a.destroy());
    return a;
  }

  it('answers a request on an existing keep-alive socket with Connection: close, refuses new connections', async () => {
    const { server, drainer, port } = await serve();
    cleanups.push(() => server.close());
    const a = agent();
    expect(await get(port, '/', a)).toMatchObject({ status: 200, connection: 'keep-alive' });
    expect(drainer.connections()).toBe(1);

    const drained = drainer.drain({ timeoutMs: 5000, idleGraceMs: 1000 });
    expect(drainer.draining).toBe(true);
    expect(server.listening).toBe(false);
    // The idle socket was kept open for its last request.
    expect(await get(port, '/', a)).toEqual({ status: 200, connection: 'close' });
    await expect(request(port, '/')).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    const result = await drained;
    expect(result).toMatchObject({ timedOut: false, forced: 0, closedIdle: 0 });
    expect(result.durationMs).toBeLessThan(1000);
  });

  it('lets an in-flight request finish and closes its socket afterwards', async () => {
    const { server, drainer, port } = await serve();
    cleanups.push(() => server.close());
    const slow = get(port, '/slow', agent());
    await sleep(50);
    const drained = drainer.drain({ timeoutMs: 5000 });
    expect(await slow).toEqual({ status: 200, connection: 'close' });
    await expect(drained).resolves.toMatchObject({ timedOut: false, forced: 0 });
  });

  it('closes sockets that stay idle for the grace period', async () => {
    const { server, drainer, port } = await serve();
    cleanups.push(() => server.close());
    await get(port, '/', agent());
    const started = Date.now();
    const result = await drainer.drain({ timeoutMs: 5000, idleGraceMs: 200 });
    expect(result).toMatchObject({ timedOut: false, closedIdle: 1, forced: 0 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(drainer.connections()).toBe(0);
  });

  it('destroys what is left at the deadline', async () => {
    const { server, drainer, port } = await serve();
    cleanups.push(() => server.close());
    const hung = get(port, '/hang', agent()).catch((error: unknown) => error);
    await sleep(50);
    const result = await drainer.drain({ timeoutMs: 300 });
    expect(result).toMatchObject({ timedOut: true, forced: 1 });
    expect(await hung).toBeInstanceOf(Error);
  });

  it('returns the same drain when called twice', async () => {
    const { server, drainer } = await serve();
    cleanups.push(() => server.close());
    const first = drainer.drain({ timeoutMs: 1000 });
    expect(drainer.drain({ timeoutMs: 1000 })).toBe(first);
    await expect(first).resolves.toMatchObject({ timedOut: false, closedIdle: 0, forced: 0 });
  });
});
