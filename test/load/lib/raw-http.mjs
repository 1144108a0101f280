// A minimal HTTP/1.1 keep-alive client for open-loop load: pre-serialised request bytes on raw
// sockets, and just enough response parsing for a status, a length and an error code. At
// several thousand requests a second on a shared 2-core box, node:http's ClientRequest /
// IncomingMessage objects and events cost the generator more CPU than the server spends on a
// refusal, so the generator (not the server) would set the refusal latency it reports.
import net from 'node:net';

const CRLF2 = Buffer.from('\r\n\r\n');

/**
 * A pool of at most `max` keep-alive connections to one host:port, as a load balancer keeps
 * to its upstream (opening one per request in a storm overflows the server's accept queue, and
 * the SYN retries, 1 s and 3 s, would be measured as the server's answer time). `warm` opens
 * them before the measurement. A request finding every connection busy waits in the pool, and
 * that wait counts: `send` resolves `{status, code, ms}` or `{error, ms}` with `ms` from `from`
 * (the request's intended send time), so neither a late generator nor a full pool hides in the
 * latency. A request that waited `timeoutMs` in the pool fails as `timeout (client queue)`.
 */
export class RawPool {
  constructor({ host, port, timeoutMs = 10_000, max = Infinity }) {
    this.host = host;
    this.port = port;
    this.timeoutMs = timeoutMs;
    this.max = max;
    this.idle = [];
    this.open = new Set();
    this.opened = 0;
    this.waiting = [];
    this.queuedMax = 0;
  }

  async warm(n) {
    const conns = Array.from({ length: Math.min(n, this.max) }, () => this.connect());
    await Promise.all(conns.map((c) => new Promise((resolve) => (c.socket.connecting ? c.socket.once('connect', resolve).once('error', resolve) : resolve()))));
    this.idle.push(...conns.filter((c) => !c.socket.destroyed));
  }

  send(bytes, from) {
    return new Promise((resolve) => {
      const conn = this.idle.pop() ?? (this.open.size < this.max ? this.connect() : null);
      if (conn) return conn.start(bytes, from, resolve);
      this.waiting.push({ bytes, from, resolve });
      if (this.waiting.length > this.queuedMax) this.queuedMax = this.waiting.length;
    });
  }

  /** A connection is free: the oldest waiter still within its time gets it. */
  release(conn) {
    while (this.waiting.length > 0) {
      const job = this.waiting.shift();
      if (performance.now() - job.from >= this.timeoutMs) {
        job.resolve({ error: 'timeout (client queue)', ms: performance.now() - job.from });
        continue;
      }
      return conn.start(job.bytes, job.from, job.resolve);
    }
    this.idle.push(conn);
  }

  connect() {
    const pool = this;
    const socket = net.connect({ host: this.host, port: this.port, noDelay: true });
    this.opened += 1;
    const conn = {
      socket,
      buf: null,
      job: null,
      timer: null,
      start(bytes, from, resolve) {
        this.job = { from, resolve };
        this.buf = null;
        this.timer = setTimeout(() => this.fail('timeout'), pool.timeoutMs);
        socket.write(bytes);
      },
      fail(error) {
        clearTimeout(this.timer);
        const job = this.job;
        this.job = null;
        pool.open.delete(this);
        socket.destroy();
        if (job) job.resolve({ error, ms: performance.now() - job.from });
        pool.refill();
      },
      finish(status, body, keepAlive) {
        clearTimeout(this.timer);
        const job = this.job;
        this.job = null;
        this.buf = null;
        let code = null;
        if (status >= 400) {
          const m = /"code"\s*:\s*"([A-Z_]+)"/.exec(body.toString('latin1'));
          code = m ? m[1] : null;
        }
        job.resolve({ status, code, ms: performance.now() - job.from });
        if (keepAlive) pool.release(this);
        else {
          pool.open.delete(this);
          socket.destroy();
          pool.refill();
        }
      },
    };
    this.open.add(conn);
    socket.on('data', (chunk) => {
      if (!conn.job) return;
      conn.buf = conn.buf === null ? chunk : Buffer.concat([conn.buf, chunk]);
      const buf = conn.buf;
      const end = buf.indexOf(CRLF2);
      if (end === -1) return;
      const head = buf.toString('latin1', 0, end).toLowerCase();
      const status = Number(head.slice(9, 12));
      const keepAlive = !/\r\nconnection:\s*close/.test(head);
      const len = /\r\ncontent-length:\s*(\d+)/.exec(head);
      const bodyStart = end + 4;
      if (len) {
        const n = Number(len[1]);
        if (buf.length - bodyStart < n) return;
        conn.finish(status, buf.subarray(bodyStart, bodyStart + n), keepAlive);
      } else if (/\r\ntransfer-encoding:\s*chunked/.test(head)) {
        const tail = buf.subarray(bodyStart);
        if (tail.length < 5 || !(tail.subarray(0, 5).toString() === '0\r\n\r\n' || tail.subarray(-7).toString() === '\r\n0\r\n\r\n')) return;
        conn.finish(status, tail, keepAlive);
      } else conn.finish(status, buf.subarray(bodyStart), false);
    });
    socket.on('error', (error) => conn.fail(error.code ?? error.message));
    socket.on('close', () => {
      if (conn.job) conn.fail('closed');
      pool.open.delete(conn);
      const i = pool.idle.indexOf(conn);
      if (i !== -1) pool.idle.splice(i, 1);
    });
    return conn;
  }

  /** A connection closed: a waiter gets a new one. */
  refill() {
    if (this.waiting.length > 0 && this.open.size < this.max && !this.destroyed) this.release(this.connect());
  }

  destroy() {
    this.destroyed = true;
    for (const job of this.waiting) job.resolve({ error: 'timeout (client queue)', ms: performance.now() - job.from });
    this.waiting = [];
    for (const conn of this.open) conn.socket.destroy();
    this.open.clear();
    this.idle = [];
  }
}

/** Request bytes for `RawPool.send`. */
export function requestBytes(method, path, host, headers = {}, body = undefined) {
  let head = `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  if (body !== undefined) head += `content-length: ${Buffer.byteLength(body)}\r\n`;
  head += '\r\n';
  return body === undefined ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body)]);
}
