import type { AuthenticatedUser } from './auth.decorators.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Express's own extension point
  namespace Express {
    interface Request {
      /** Set from the session before any guard runs; absent for anonymous requests. */
      user?: AuthenticatedUser;
    }
  }
}

export {};
