import pg from 'pg';

/** Told when the link under a connection fails; the connection is unusable from then on. */
export type ConnectionErrorHandler = (error: Error, client: pg.Client) => void;

const failedClients = new WeakSet<pg.ClientBase>();

/**
 * A pg `Client` class whose instances listen for `error` from construction on. pg emits
 * `error` on a client whenever its socket fails (a reset, a server gone), even while a query
 * on it is being rejected with the same error; an emitter without a listener throws, and the
 * throw ends the process. pg-pool listens only while a client sits idle, TypeORM only on the
 * pool, so a connection checked out when the link breaks would crash the worker. Passed as
 * `Client` to a pool (TypeORM forwards it through `extra`), it covers every connection that
 * pool ever opens, checked out or idle, for its whole life.
 */
export function guardedClientClass(onError: ConnectionErrorHandler): typeof pg.Client {
  return class GuardedClient extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super(config);
      this.on('error', (error: Error) => {
        failedClients.add(this);
        onError(error, this);
      });
    }
  };
}

/** True once the connection reported a link failure: it must be discarded, never reused. */
export function connectionFailed(client: pg.ClientBase): boolean {
  return failedClients.has(client);
}

/**
 * TCP keepalive for every connection to PostgreSQL: after `idleMs` without traffic the kernel
 * probes the peer (Node then probes every second, ten times), so a link whose peer vanished
 * without FIN or RST is torn down in about `idleMs` + 10 s instead of the kernel's two hours.
 */
export function keepAliveOptions(idleMs: number): Pick<pg.ClientConfig, 'keepAlive' | 'keepAliveInitialDelayMillis'> {
  return { keepAlive: true, keepAliveInitialDelayMillis: idleMs };
}
