import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage } from 'node:http';

/** What every log line written while serving a request carries (CONTRACT "Correlation"). */
export interface RequestLogContext {
  correlationId: string;
  userId?: number | string;
  /** For lines that name the route (slow queries); never logged as such. */
  request?: IncomingMessage;
}

const storage = new AsyncLocalStorage<RequestLogContext>();

/**
 * The request's identity for logging, kept in async context rather than in a child logger
 * per request: the root logger's mixin reads it, so any code (a service, a filter, Nest's own
 * logger) logs with the ids without being handed a logger, and a request costs no child.
 */
export const requestContext = {
  run<T>(context: RequestLogContext, fn: () => T): T {
    return storage.run(context, fn);
  },
  current(): RequestLogContext | undefined {
    return storage.getStore();
  },
  /** Called once the session names the user, so later lines carry `userId`. */
  setUser(userId: number | string): void {
    const context = storage.getStore();
    if (context) context.userId = userId;
  },
};
