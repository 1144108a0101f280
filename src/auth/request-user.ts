import type { Logger } from 'pino';
import type { AuthenticatedUser } from './auth.decorators.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Express's own extension point
  namespace Express {
    interface Request {
      /** Set from the session before any guard runs; absent for anonymous requests. */
      user?: AuthenticatedUser;
      /** The root logger, set by the request logger; the request's ids come from its context. */
      log?: Logger;
    }
  }
}

export {};
