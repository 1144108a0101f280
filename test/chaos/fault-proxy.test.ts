import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultProxy } from './support/fault-proxy.js';
import { sleep } from './support/user-load.js';

// The proxy is what every chaos scenario trusts; each mode is checked against a plain echo server.
let echo: net.Server;
let echoPort: number;

beforeAll(async () => {
  echo = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', () => resolve()));
  echoPort = (echo.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => echo.close(() => resolve()));
});

interface Conn {
  socket: net.Socket;
  received(): string;
  events: string[];
}

async function connect(port: number): Promise<Conn> {
  const socket = net.connect(port, '127.0.0.1');
  let data = '';
  const events: string[] = [];
  socket.on('data', (chunk) => (data += chunk.toString()));
  socket.on('end', () => events.push('end'));
  socket.on('error', (error: NodeJS.ErrnoException) => events.push(error.code ?? error.message));
  socket.on('close', () => events.push('close'));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, received: () => data, events };
}

async function eventually(check: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('FaultProxy', () => {
  it('passes bytes both ways, and adds latency when asked', async () => {
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: echoPort });
    try {
      const conn = await connect(proxy.port);
      conn.socket.write('hello');
      await eventually(() => conn.received() === 'hello');
      proxy.latency(150);
      const started = Date.now();
      conn.socket.write('slow');
      await eventually(() => conn.received() === 'helloslow');
      // 150 ms each way.
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      conn.socket.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('stall holds bytes and delivers them in order after pass()', async () => {
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: echoPort });
    try {
      const conn = await connect(proxy.port);
      proxy.stall();
      conn.socket.write('a');
      conn.socket.write('b');
      const late = await connect(proxy.port);
      late.socket.write('late');
      await sleep(300);
      expect(conn.received()).toBe('');
      expect(late.received()).toBe('');
      proxy.pass();
      await eventually(() => conn.received() === 'ab' && late.received() === 'late');
      conn.socket.destroy();
      late.socket.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('vanish kills connections silently: no bytes, no FIN, no RST, and they stay dead after pass()', async () => {
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: echoPort });
    try {
      const conn = await connect(proxy.port);
      proxy.vanish();
      conn.socket.write('lost');
      const blackHoled = await connect(proxy.port);
      blackHoled.socket.write('also lost');
      await sleep(300);
      proxy.pass();
      conn.socket.write('still lost');
      await sleep(300);
      expect(conn.received()).toBe('');
      expect(conn.events).toEqual([]);
      expect(blackHoled.received()).toBe('');
      expect(blackHoled.events).toEqual([]);
      const fresh = await connect(proxy.port);
      fresh.socket.write('back');
      await eventually(() => fresh.received() === 'back');
      for (const c of [conn, blackHoled, fresh]) c.socket.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('refuse resets new connections; resetAll resets open ones', async () => {
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: echoPort });
    try {
      const open = await connect(proxy.port);
      proxy.refuse();
      const refused = net.connect(proxy.port, '127.0.0.1');
      const refusal = await new Promise<string>((resolve) => {
        refused.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
        refused.on('close', () => resolve('closed'));
      });
      expect(refusal).toBe('ECONNRESET');
      open.socket.write('ok');
      await eventually(() => open.received() === 'ok');
      proxy.resetAll();
      await eventually(() => open.events.includes('ECONNRESET'));
      expect(proxy.openConnections).toBe(0);
    } finally {
      await proxy.close();
    }
  });
});
