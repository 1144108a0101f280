import type { AuthenticatedUser } from '../../auth/auth.decorators.js';

declare module 'express-session' {
  interface SessionData {
    /**
     * Epoch milliseconds when this session id was issued. The absolute timeout counts from
     * here, and login issues a new id, so an authenticated session's clock starts at login.
     */
    createdAt: number;
    /** Present once logged in; a session without it is an anonymous pre-login session. */
    user: AuthenticatedUser;
  }
}

export {};
