import type { Request } from 'express';
import type { SessionData } from './session-data.js';

const STATE = Symbol('rampart.session');

/** Which stored session `req.session` is, if any. Kept off `req.session` so it is never serialised. */
export interface RequestSessionState {
  /** The id in the backend and in the browser's cookie; null until first stored. */
  id: string | null;
  /**
   * The request carried a session cookie but no live session stands behind it: expired,
   * logged out, revoked, emptied by a Redis restart, or never issued by this deployment.
   */
  lost: boolean;
}

type WithState = Request & { [STATE]?: RequestSessionState };

/** Gives the request its session: a loaded one (with its id) or a new, not yet stored one. */
export function attachSession(req: Request, data: SessionData, id: string | null, lost = false): void {
  req.session = data;
  (req as WithState)[STATE] = { id, lost };
}

/** True when the request's session cookie names no live session (see RequestSessionState.lost). */
export function sessionLost(req: Request): boolean {
  return (req as WithState)[STATE]?.lost === true;
}

export function sessionStateOf(req: Request): RequestSessionState | undefined {
  return (req as WithState)[STATE];
}
