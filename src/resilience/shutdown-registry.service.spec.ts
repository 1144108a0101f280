import { createServer, request, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ShutdownRegistry } from './shutdown-registry.service.js';

const silent = pino({ level: 'silent' });
const registryWith = (overrides: Partial<{ drainDelayMs: number; timeoutMs: number; hookTimeoutMs: number }> = {}) =>
  new ShutdownRegistry({ drainDelayMs: 0, timeoutMs: 1000, hookTimeoutMs: 200, ...overrides }, silent);

describe(ShutdownRegistry.name, () => {
  it('closes phases in order, whatever the registration order', async () => {
    const registry = registryWith();
    const order: string[] = [];
    registry.register({ name: 'embedded', phase: 'embedded-db', close: () => void order.push('embedded-db') });
    registry.register({ name: 'main', phase: 'main-db', close: () => void order.push('main-db') });
    registry.register({ name: 'redis', phase: 'redis', close: () => void order.push('redis') });
    registry.register({ name: 'jobs', phase: 'jobs', close: () => void order.push('jobs') });
    registry.register({ name: 'health', phase: 'health-db', close: () => void order.push('health-db') });
    registry.register({ name: 'sse', phase: 'realtime', close: () => void order.push('realtime') });
    const report = await registry.shutdown('test');
    expect(order).toEqual(['jobs', 'realtime', 'redis', 'health-db', 'main-db', 'embedded-db']);
    expect(report.forced).toBe(false);
  });

  it('cuts a hanging hook at its bound, marks the run forced and still runs later hooks', async () => {
    const registry = registryWith({ hookTimeoutMs: 100 });
    let laterRan = false;
    registry.register({ name: 'hangs', phase: 'jobs', close: () => new Promise<void>(() => undefined) });
    registry.register({ name: 'later', phase: 'main-db', close: () => void (laterRan = true) });
    const started = Date.now();
    const report = await registry.shutdown('test');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(laterRan).toBe(true);
    expect(report.forced).toBe(true);
    expect(report.hooks.find((h) => h.name === 'hangs')?.outcome).toBe('timeout');
    expect(report.hooks.find((h) => h.name === 'later')?.outcome).toBe('ok');
  });

  it('logs and skips a failing hook without stopping the rest', async () => {
    const registry = registryWith();
    let laterRan = false;
    registry.register({ name: 'fails', phase: 'redis', close: () => Promise.reject(new Error('boom')) });
    registry.register({ name: 'later', phase: 'main-db', close: () => void (laterRan = true) });
    const report = await registry.shutdown('test');
    expect(report.hooks.find((h) => h.name === 'fails')?.outcome).toBe('failed');
    expect(laterRan).toBe(true);
    expect(report.forced).toBe(true);
  });

  it('is idempotent: a second shutdown returns the same run and runs no hook twice', async () => {
    const registry = registryWith();
    let calls = 0;
    registry.register({ name: 'once', phase: 'jobs', close: () => void (calls += 1) });
    const [a, b] = await Promise.all([registry.shutdown('one'), registry.shutdown('two')]);
    expect(a).toBe(b);
    expect(calls).toBe(1);
  });

  it('reports draining from the first moment, before the drain delay has passed', async () => {
    const registry = registryWith({ drainDelayMs: 150 });
    let drainListenerSawDraining = false;
    registry.onDrainStart(() => (drainListenerSawDraining = registry.draining));
    const done = registry.shutdown('test');
    expect(registry.draining).toBe(true);
    expect(registry.refusing).toBe(false);
    expect(drainListenerSawDraining).toBe(true);
    await done;
    expect(registry.state).toBe('closed');
  });

  describe('with an HTTP server', () => {
    let server: Server | null = null;
    afterEach(() => {
      server?.closeAllConnections();
      server?.close();
      server = null;
    });

    async function listen(handler: RequestListener): Promise<number> {
      server = createServer(handler);
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
      return (server.address() as AddressInfo).port;
    }

    function get(port: number): Promise<number> {
      return new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/' }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    }

    it('lets an in-flight request finish before closing resources', async () => {
      const registry = registryWith({ timeoutMs: 2000 });
      const events: string[] = [];
      const port = await listen((_req, res) => {
        res.on('finish', () => events.push('response sent'));
        setTimeout(() => res.end('late'), 300);
      });
      registry.attachHttpServer(server!);
      registry.register({ name: 'db', phase: 'main-db', close: () => void events.push('db closed') });
      const inflight = get(port);
      await new Promise((r) => setTimeout(r, 50));
      expect(registry.activeRequests).toBe(1);
      const report = await registry.shutdown('test');
      expect(await inflight).toBe(200);
      expect(events).toEqual(['response sent', 'db closed']);
      expect(report.abandonedRequests).toBe(0);
      expect(report.forced).toBe(false);
    });

    it('abandons a request that outlives the drain timeout and reports the run as forced', async () => {
      const registry = registryWith({ timeoutMs: 200 });
      const port = await listen(() => undefined);
      registry.attachHttpServer(server!);
      const inflight = get(port).catch(() => 'reset');
      await new Promise((r) => setTimeout(r, 50));
      const report = await registry.shutdown('test');
      expect(report.abandonedRequests).toBe(1);
      expect(report.forced).toBe(true);
      expect(await inflight).toBe('reset');
    });
  });
});
