import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/database/embedded-postgres.js';
import { healthDbTimeouts, PgHealthDatabase, PROBE_MESSAGES } from '../../src/health/health-database.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const TOTAL_MS = 500;

/** A TCP relay to PostgreSQL that can swallow traffic: a link that hangs without closing. */
class StallingProxy {
  stalled = false;
  readonly clients = new Set<Socket>();
  private server: Server | null = null;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<number> {
    this.server = createServer((client) => {
      this.clients.add(client);
      const upstream = connect(this.target.port, this.target.host);
      client.on('data', (chunk: Buffer) => {
        if (!this.stalled) upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        if (!this.stalled) client.write(chunk);
      });
      const end = () => {
        this.clients.delete(client);
        client.destroy();
        upstream.destroy();
      };
      client.on('close', end);
      client.on('error', end);
      upstream.on('close', end);
      upstream.on('error', end);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const client of this.clients) client.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

function withPort(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
}

const logger = pino({ level: 'silent' });

describe(PgHealthDatabase.name, () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('rampart_healthdb');
    await db.query('CREATE TABLE migrations (id serial PRIMARY KEY)');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('destroys a connection whose ping hangs on the wire, so the next ping starts clean', async () => {
    const target = new URL(db.url);
    const proxy = new StallingProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const port = await proxy.start();
    const health = new PgHealthDatabase(withPort(db.url, port), healthDbTimeouts(TOTAL_MS), logger, 10_000);
    try {
      await health.ping();
      expect(health.stats()).toMatchObject({ open: 1, inUse: 0, idle: 1 });

      proxy.stalled = true;
      const started = Date.now();
      await expect(health.ping(AbortSignal.timeout(TOTAL_MS))).rejects.toThrow(PROBE_MESSAGES.dbTimeout);
      // The client-side bound fired; the server never even saw the query.
      expect(Date.now() - started).toBeLessThan(TOTAL_MS + 1000);
      expect(health.stats()).toMatchObject({ open: 0, inUse: 0, waiting: 0 });
      await expect.poll(() => proxy.clients.size).toBe(0);

      proxy.stalled = false;
      await health.ping();
      expect(health.stats()).toMatchObject({ open: 1, inUse: 0 });
    } finally {
      await health.close();
      await proxy.stop();
    }
  });

  it('drops the connection as soon as the caller gives up, before the driver bounds fire', async () => {
    const target = new URL(db.url);
    const proxy = new StallingProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const port = await proxy.start();
    const health = new PgHealthDatabase(withPort(db.url, port), { connectMs: 2000, statementMs: 5000, queryMs: 5000 }, logger, 10_000);
    try {
      await health.ping();
      proxy.stalled = true;
      const controller = new AbortController();
      const ping = health.ping(controller.signal);
      await new Promise((r) => setTimeout(r, 50));
      controller.abort();
      await expect(ping).rejects.toThrow(PROBE_MESSAGES.dbTimeout);
      expect(health.stats()).toMatchObject({ open: 0, inUse: 0 });
    } finally {
      await health.close();
      await proxy.stop();
    }
  });

  it('times out opening a connection to a server that never answers the handshake', async () => {
    const target = new URL(db.url);
    const proxy = new StallingProxy({ host: target.hostname, port: Number(target.port || 5432) });
    proxy.stalled = true;
    const port = await proxy.start();
    const timeouts = healthDbTimeouts(TOTAL_MS);
    const health = new PgHealthDatabase(withPort(db.url, port), timeouts, logger, 10_000);
    try {
      const started = Date.now();
      await expect(health.ping()).rejects.toThrow(PROBE_MESSAGES.dbConnectTimeout);
      expect(Date.now() - started).toBeLessThan(timeouts.connectMs + 1000);
      expect(health.stats()).toMatchObject({ open: 0, inUse: 0 });
    } finally {
      await health.close();
      await proxy.stop();
    }
  });

  it('reports a refused connection as unreachable without the address', async () => {
    const health = new PgHealthDatabase(withPort(db.url, await freePort()), healthDbTimeouts(TOTAL_MS), logger, 10_000);
    try {
      const error: unknown = await health.ping().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toBe(PROBE_MESSAGES.dbUnreachable);
    } finally {
      await health.close();
    }
  });

  it('refuses pings once closed', async () => {
    const health = new PgHealthDatabase(db.url, healthDbTimeouts(TOTAL_MS), logger, 10_000);
    await health.ping();
    await health.close();
    await expect(health.ping()).rejects.toThrow(PROBE_MESSAGES.dbClosed);
  });
});
