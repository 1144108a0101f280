import net from 'node:net';

/*
 * A TCP fault proxy of our own between Rampart and a real PostgreSQL or Redis: nothing kept on
 * npm or Debian does stall-then-deliver-in-order and silent vanishing on a plain port.
 *
 * Limits worth knowing when reading a result: the proxy is a real TCP endpoint, so its kernel
 * ACKs and answers keepalive probes even for a "vanished" connection. A vanish therefore tests
 * what the application notices by itself (socket timeouts, heartbeats, query timeouts), not the
 * kernel's keepalive, which is checked by configuration instead.
 */

type Item = { kind: 'data'; chunk: Buffer; due: number } | { kind: 'end' | 'reset'; due: number };

/** One direction of one connection: an ordered queue that is held, delayed or dropped. */
class Lane {
  private readonly queue: Item[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly proxy: FaultProxy,
    private readonly link: Link,
    private readonly to: net.Socket,
  ) {}

  push(item: Item): void {
    if (this.link.dead) return;
    this.queue.push(item);
    this.pump();
  }

  pump(): void {
    if (this.link.dead) {
      this.queue.length = 0;
      return;
    }
    if (this.proxy.holding || this.timer) return;
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const wait = head.due - Date.now();
      if (wait > 0) {
        this.timer = setTimeout(() => {
          this.timer = null;
          this.pump();
        }, wait);
        return;
      }
      this.queue.shift();
      if (this.to.destroyed) continue;
      if (head.kind === 'data') this.to.write(head.chunk);
      else if (head.kind === 'end') this.to.end();
      else this.to.resetAndDestroy();
    }
  }

  drop(): void {
    this.queue.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** A client connection and its upstream twin. */
class Link {
  dead = false;
  readonly up: Lane;
  readonly down: Lane;

  constructor(
    proxy: FaultProxy,
    readonly client: net.Socket,
    readonly upstream: net.Socket | null,
  ) {
    this.up = new Lane(proxy, this, upstream ?? client);
    this.down = new Lane(proxy, this, client);
  }

  /** Silently dead: bytes in either direction are read and dropped, no FIN or RST ever goes out. */
  kill(): void {
    this.dead = true;
    this.up.drop();
    this.down.drop();
  }

  reset(): void {
    this.kill();
    if (!this.client.destroyed) this.client.resetAndDestroy();
    if (this.upstream && !this.upstream.destroyed) this.upstream.resetAndDestroy();
  }
}

export type FaultMode = 'pass' | 'stall' | 'vanish' | 'refuse';

export class FaultProxy {
  private mode: FaultMode = 'pass';
  private delayMs = 0;
  private readonly links = new Set<Link>();

  private constructor(
    private readonly server: net.Server,
    private readonly target: { host: string; port: number },
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<FaultProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const proxy = new FaultProxy(server, target, (server.address() as net.AddressInfo).port);
    server.on('connection', (socket) => proxy.accept(socket));
    return proxy;
  }

  /** Same URL with host and port pointing at the proxy. */
  url(original: string): string {
    const url = new URL(original);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  get currentMode(): FaultMode {
    return this.mode;
  }

  /** True while bytes are held rather than forwarded. */
  get holding(): boolean {
    return this.mode === 'stall';
  }

  get openConnections(): number {
    return this.links.size;
  }

  /** Heal: forward again, delivering held bytes in order; vanished connections stay dead. */
  pass(): void {
    this.mode = 'pass';
    for (const link of this.links) {
      link.up.pump();
      link.down.pump();
    }
  }

  latency(ms: number): void {
    this.delayMs = Math.max(0, ms);
  }

  /** Hold every byte of every connection, old and new, until `pass()`, as a healed partition does. */
  stall(): void {
    this.mode = 'stall';
  }

  /** The host is gone without a word: existing connections die silently, new ones are black holes. */
  vanish(): void {
    this.mode = 'vanish';
    for (const link of this.links) link.kill();
  }

  /** New connections are reset at once; existing ones carry on. */
  refuse(): void {
    this.mode = 'refuse';
  }

  /** RST every open connection, both sides. */
  resetAll(): void {
    for (const link of [...this.links]) link.reset();
  }

  async close(): Promise<void> {
    for (const link of [...this.links]) {
      link.kill();
      link.client.destroy();
      link.upstream?.destroy();
    }
    this.links.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    client.on('error', () => undefined);
    if (this.mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    if (this.mode === 'vanish') {
      const link = new Link(this, client, null);
      link.kill();
      this.track(link);
      client.on('data', () => undefined);
      return;
    }
    const upstream = net.connect(this.target.port, this.target.host);
    upstream.setNoDelay(true);
    client.setNoDelay(true);
    const link = new Link(this, client, upstream);
    this.track(link);
    upstream.on('error', () => link.down.push({ kind: 'reset', due: Date.now() + this.delayMs }));
    client.on('error', () => link.up.push({ kind: 'reset', due: Date.now() + this.delayMs }));
    client.on('data', (chunk: Buffer) => link.up.push({ kind: 'data', chunk, due: Date.now() + this.delayMs }));
    upstream.on('data', (chunk: Buffer) => link.down.push({ kind: 'data', chunk, due: Date.now() + this.delayMs }));
    client.on('end', () => link.up.push({ kind: 'end', due: Date.now() + this.delayMs }));
    upstream.on('end', () => link.down.push({ kind: 'end', due: Date.now() + this.delayMs }));
  }

  private track(link: Link): void {
    this.links.add(link);
    let open = link.upstream ? 2 : 1;
    const closed = () => {
      open -= 1;
      if (open === 0) this.links.delete(link);
    };
    link.client.on('close', closed);
    link.upstream?.on('close', closed);
  }
}
