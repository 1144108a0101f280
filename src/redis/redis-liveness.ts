import type { Redis } from 'ioredis';

export interface LivenessOptions {
  /** How often the current connection is proven with a PING. */
  heartbeatMs: number;
  /** How long a PING, or a new connection's handshake, may go unanswered before the socket is destroyed. */
  timeoutMs: number;
}

/** The part of an ioredis client the watchdog touches (a fake one in the spec). */
export type WatchedRedis = Pick<Redis, 'status' | 'stream' | 'ping' | 'on' | 'off'>;

/** Why a socket was destroyed; what the client's `error` listener then logs. */
export class RedisSilentError extends Error {
  override readonly name = 'RedisSilentError';
}

/**
 * A peer that vanished without FIN or RST (power loss, a conntrack or NAT entry dropped, a
 * moved VIP) leaves the socket "ready" until the kernel gives up retransmitting, about 15
 * minutes later. ioredis' commandTimeout fails each command but keeps that socket, so nothing
 * ever reconnects. This proves the current socket with a PING every heartbeat and destroys it
 * when the answer does not come in time; a socket that connected but never finished its
 * handshake gets the same bound. ioredis then reconnects through its retry strategy.
 *
 * Not ioredis' own `socketTimeout`: its timer is armed per client, not per socket, so after a
 * reset it outlives the socket it was armed for and later destroys the healthy replacement.
 */
export function watchLiveness(client: WatchedRedis, { heartbeatMs, timeoutMs }: LivenessOptions): { stop(): void } {
  let stopped = false;
  let probe: NodeJS.Timeout | null = null;
  let handshake: NodeJS.Timeout | null = null;

  const destroy = (stream: WatchedRedis['stream'], why: string) => {
    // Only the socket that failed to answer: by now the client may already be on a new one.
    if (stopped || client.stream !== stream || stream.destroyed) return;
    stream.destroy(new RedisSilentError(why));
  };

  const beat = () => {
    if (probe !== null || client.status !== 'ready') return;
    const stream = client.stream;
    const deadline = setTimeout(() => {
      probe = null;
      destroy(stream, `Redis did not answer a PING within ${timeoutMs} ms; replacing the connection`);
    }, timeoutMs);
    deadline.unref();
    probe = deadline;
    const settle = () => {
      if (probe !== deadline) return;
      clearTimeout(deadline);
      probe = null;
    };
    client.ping().then(settle, () => {
      // A command timeout proves nothing about the socket: the deadline still decides. A socket
      // that is already gone has been replaced, so the next beat probes its successor.
      if (client.stream !== stream || stream.destroyed) settle();
    });
  };

  const onConnect = () => {
    const stream = client.stream;
    if (handshake !== null) clearTimeout(handshake);
    handshake = setTimeout(() => {
      handshake = null;
      if (client.status === 'connect') destroy(stream, `Redis did not answer the connection handshake within ${timeoutMs} ms`);
    }, timeoutMs);
    handshake.unref();
  };
  const onReady = () => {
    if (handshake !== null) clearTimeout(handshake);
    handshake = null;
  };

  client.on('connect', onConnect);
  client.on('ready', onReady);
  const heartbeat = setInterval(beat, heartbeatMs);
  heartbeat.unref();

  return {
    stop: () => {
      stopped = true;
      clearInterval(heartbeat);
      if (probe !== null) clearTimeout(probe);
      if (handshake !== null) clearTimeout(handshake);
      client.off('connect', onConnect);
      client.off('ready', onReady);
    },
  };
}
