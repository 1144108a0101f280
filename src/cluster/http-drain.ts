import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';

/**
 * Keep-alive-aware drain for a worker's HTTP server, the part that makes a rolling restart drop
 * nothing. `http.Server.close()` (and cluster's own disconnect, which calls it) destroys every
 * idle keep-alive socket at once; a client that is writing its next request on one of them at
 * that moment gets ECONNRESET. Instead:
 *
 * 1. stop accepting (closing only the listening handle, which also takes the worker out of the
 *    primary's round-robin),
 * 2. answer every further request on an existing socket with `Connection: close`, so the client
 *    learns from a complete response that it must reconnect (and lands on another worker),
 * 3. close sockets that stay idle for `idleGraceMs` after the drain began,
 * 4. destroy whatever is left at `timeoutMs`.
 *
 * Call `drain()` synchronously from the shutdown callback: the primary's `disconnect` follows the
 * shutdown message on the same channel, and if the listener is still open by then cluster closes
 * it with `http.Server.close()`, idle sockets included.
 */

export interface HttpDrainOptions {
  /** Hard bound; remaining sockets are destroyed after it. */
  timeoutMs: number;
  /** How long an idle keep-alive socket gets to send one last request. Default 300 ms. */
  idleGraceMs?: number;
}

export interface DrainResult {
  timedOut: boolean;
  /** Idle sockets closed by the sweep. */
  closedIdle: number;
  /** Sockets destroyed at the deadline (possibly with a request in flight). */
  forced: number;
  durationMs: number;
}

export interface HttpDrainer {
  readonly draining: boolean;
  /** Open client connections right now. */
  connections(): number;
  drain(options: HttpDrainOptions): Promise<DrainResult>;
}

interface SocketState {
  active: number;
  idleSince: number;
  /** Responses not yet finished on this socket (pipelining allows more than one). */
  pending: Set<ServerResponse>;
}

const DEFAULT_IDLE_GRACE_MS = 300;
const SWEEP_INTERVAL_MS = 25;

export function trackHttpServer(server: Server, now: () => number = Date.now): HttpDrainer {
  const sockets = new Map<Socket, SocketState>();
  let draining = false;
  let drainStartedAt = 0;
  let drainPromise: Promise<DrainResult> | null = null;

  server.on('connection', (socket: Socket) => {
    sockets.set(socket, { active: 0, idleSince: now(), pending: new Set() });
    socket.once('close', () => sockets.delete(socket));
  });

  // Prepended so the header is set before the application writes anything.
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const state = sockets.get(req.socket);
    if (draining) res.setHeader('Connection', 'close');
    if (!state) return;
    state.active += 1;
    state.pending.add(res);
    // A response closes once; a plain listener spares once()'s wrapper and removal per request.
    res.on('close', () => {
      state.active = Math.max(0, state.active - 1);
      state.pending.delete(res);
      state.idleSince = now();
    });
  });

  return {
    get draining() {
      return draining;
    },
    connections: () => sockets.size,
    drain(options: HttpDrainOptions): Promise<DrainResult> {
      if (drainPromise) return drainPromise;
      draining = true;
      drainStartedAt = now();
      const idleGraceMs = options.idleGraceMs ?? DEFAULT_IDLE_GRACE_MS;
      if (server.listening) {
        // net's close, not http's: http's would also destroy idle keep-alive sockets right now.
        NetServer.prototype.close.call(server);
      }
      for (const state of sockets.values()) {
        for (const res of state.pending) {
          if (!res.headersSent) res.setHeader('Connection', 'close');
        }
      }
      drainPromise = new Promise<DrainResult>((resolve) => {
        let closedIdle = 0;
        const finish = (timedOut: boolean, forced: number): void => {
          clearInterval(sweepTimer);
          clearTimeout(deadline);
          resolve({ timedOut, closedIdle, forced, durationMs: now() - drainStartedAt });
        };
        const sweep = (): void => {
          const at = now();
          for (const [socket, state] of sockets) {
            if (state.active === 0 && at - Math.max(state.idleSince, drainStartedAt) >= idleGraceMs) {
              sockets.delete(socket);
              socket.destroy();
              closedIdle += 1;
            }
          }
          if (sockets.size === 0) finish(false, 0);
        };
        const sweepTimer = setInterval(sweep, Math.min(SWEEP_INTERVAL_MS, Math.max(1, idleGraceMs)));
        const deadline = setTimeout(() => {
          const forced = sockets.size;
          for (const socket of sockets.keys()) socket.destroy();
          sockets.clear();
          finish(true, forced);
        }, options.timeoutMs);
        sweep();
      });
      return drainPromise;
    },
  };
}
