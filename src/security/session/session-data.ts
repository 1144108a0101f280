import type { AuthenticatedUser } from '../../auth/auth.decorators.js';

/** What a session holds. Serialised as JSON into the backend; nothing else is kept per session. */
export interface SessionData {
  /**
   * Epoch milliseconds when this session id was issued. The absolute timeout counts from
   * here, and login issues a new id, so an authenticated session's clock starts at login.
   */
  createdAt?: number;
  /** Present once logged in; a session without it is an anonymous pre-login session. */
  user?: AuthenticatedUser;
  /**
   * A short digest of the user's password hash at login: when the stored hash changes
   * (password changed or reset, even straight in SQL) the session no longer matches and ends.
   * Absent on sessions of earlier releases, which are then not checked for it.
   */
  credential?: string;
  /**
   * Set at a login with a one-time password: until the password is changed the session may
   * only change it, read itself, fetch a CSRF token and log out (see AuthGuard).
   */
  mustChangePassword?: true;
  /**
   * A shorter absolute timeout (seconds) for this session than SESSION_ABSOLUTE_TIMEOUT_S:
   * directory users' (LDAP_SESSION_MAX_S), whose removal from the directory Rampart only learns
   * at a sign-in.
   */
  maxLifetimeS?: number;
  /** The synchroniser token (csrf-sync reads and writes `req.session.csrfToken`). */
  csrfToken?: string | null;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Express's own extension point
  namespace Express {
    interface Request {
      /** The session's data, on session-scoped paths only (see inSessionScope). */
      session?: SessionData;
    }
  }
}
