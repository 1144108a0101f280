import type { Request } from 'express';
import type { SessionData } from './session-data.js';

const STATE = Symbol('rampart.session');

/** Which stored session `req.session` is, if any. Kept off `req.session` so it is never serialised. */
export interface RequestSessionState {
  /** The id in the backend and in the browser's cookie; null until first stored. */
  id: string | null;
}

type WithState = Request & { [STATE]?: RequestSessionState };

/** Gives the request its session: a loaded one (with its id) or a new, not yet stored one. */
export function attachSession(req: Request, data: SessionData, id: string | null): void {
  req.session = data;
  (req as WithState)[STATE] = { id };
}

export function sessionStateOf(req: Request): RequestSessionState | undefined {
  return (req as WithState)[STATE];
}
