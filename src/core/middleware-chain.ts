import type { IncomingMessage, ServerResponse } from 'node:http';

type Next = (error?: unknown) => void;
export type Middleware<Req extends IncomingMessage = never, Res extends ServerResponse = never> = (req: Req, res: Res, next: Next) => void;

/**
 * Runs connect-style middleware in order as one: each calls `next()` to go on or
 * `next(error)` to stop with an error, and a synchronous throw counts as `next(error)`.
 * Registered as one layer, the steps skip the router's per-layer matching and bookkeeping,
 * which on a small JSON answer cost more than several of the steps themselves.
 */
export function middlewareChain<Req extends IncomingMessage, Res extends ServerResponse>(
  steps: ReadonlyArray<Middleware<Req, Res>>,
): Middleware<Req, Res> {
  return (req, res, done) => {
    let index = 0;
    const next: Next = (error) => {
      if (error !== undefined && error !== null) return done(error);
      const step = steps[index];
      index += 1;
      if (step === undefined) return done();
      try {
        step(req, res, next);
      } catch (thrown) {
        done(thrown);
      }
    };
    next();
  };
}
