import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { type Middleware, middlewareChain } from './middleware-chain.js';

type Req = IncomingMessage & { seen: string[] };
const req = () => ({ seen: [] as string[] }) as unknown as Req;
const res = {} as ServerResponse;

function run(chain: Middleware<Req, ServerResponse>, request: Req): Promise<unknown> {
  return new Promise((resolve) => chain(request, res, (error) => resolve(error)));
}

const step =
  (name: string, then: (next: (error?: unknown) => void) => void = (next) => next()): Middleware<Req, ServerResponse> =>
  (r, _res, next) => {
    r.seen.push(name);
    then(next);
  };

describe(middlewareChain.name, () => {
  it('runs the steps in order, also across asynchronous ones, then hands on', async () => {
    const r = req();
    const outcome = await run(middlewareChain([step('a'), step('b', (next) => setTimeout(next, 5)), step('c')]), r);
    expect(outcome).toBeUndefined();
    expect(r.seen).toEqual(['a', 'b', 'c']);
  });

  it('stops at the first error, passed on or thrown', async () => {
    const failure = new Error('refused');
    const passed = req();
    expect(await run(middlewareChain([step('a'), step('b', (next) => next(failure)), step('c')]), passed)).toBe(failure);
    expect(passed.seen).toEqual(['a', 'b']);
    const thrown = req();
    const throwing: Middleware<Req, ServerResponse> = () => {
      throw failure;
    };
    expect(await run(middlewareChain([step('a'), throwing, step('c')]), thrown)).toBe(failure);
    expect(thrown.seen).toEqual(['a']);
  });

  it('ends without handing on when a step answers the request itself', async () => {
    const r = req();
    let handedOn = false;
    middlewareChain([step('a', () => undefined), step('b')])(r, res, () => {
      handedOn = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(handedOn).toBe(false);
    expect(r.seen).toEqual(['a']);
  });
});
