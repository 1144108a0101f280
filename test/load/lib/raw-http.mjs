// A minimal HTTP/1.1 keep-alive client for open-loop load: pre-serialised request bytes on raw
// sockets, and just enough response parsing for a status, a length and an error code. At
// several thousand requests a second on a shared 2-core box, node:http's ClientRequest /
// IncomingMessage objects and events cost the generator more CPU than the server spends on a
// refusal, so the generator (not the server) would set the refusal latency it reports.
import net from 'node:net';

const CRLF2 = Buffer.from('\r\n\r\n');

/**
 * A pool of keep-alive connections to one host:port, grown on demand (an open-loop generator
 * must not queue in its own pool: it would measure itself). `send` resolves
 * `{status, code, ms}` or `{error, ms}`; `ms` counts from `from` (the request's intended send
 * time), so a late generator shows up in the latency rather than hiding in it.
 */
export class RawPool {
  constructor({ host, port, timeoutMs = 10_000 }) {
    this.host = host;
    this.port = port;
    this.timeoutMs = timeoutMs;
    this.idle = [];
    this.open = new Set();
    this.opened = 0;
  }

  send(bytes, from) {
    return new Promise((resolve) => {
      const conn = this.idle.pop() ?? this.connect();
      conn.start(bytes, from, resolve);
    });
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
        if (keepAlive) pool.idle.push(this);
        else {
          pool.open.delete(this);
          socket.destroy();
        }
        job.resolve({ status, code, ms: performance.now() - job.from });
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

  destroy() {
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
