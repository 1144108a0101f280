import express, { type Request, type Response } from 'express';

const app = express();

export interface FakeRequestInit {
  method?: string;
  url?: string;
  headers?: Record<string, string>;
  body?: unknown;
  session?: Record<string, unknown>;
}

/** A request with Express's real getters (`is`, `get`, `host`, `path`) and no socket behind it. */
export function fakeRequest(init: FakeRequestInit = {}): Request {
  const req = Object.create(app.request) as Request;
  const headers = Object.fromEntries(Object.entries(init.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  Object.assign(req, {
    method: init.method ?? 'GET',
    url: init.url ?? '/',
    headers,
    body: init.body,
    session: init.session,
    socket: { remoteAddress: '203.0.113.9' },
  });
  return req;
}

/** Just enough of a response for middleware that sets headers. */
export function fakeResponse(): Response & { headersSet: Record<string, string> } {
  const headersSet: Record<string, string> = {};
  return {
    headersSet,
    setHeader(name: string, value: string) {
      headersSet[name.toLowerCase()] = String(value);
      return this;
    },
  } as unknown as Response & { headersSet: Record<string, string> };
}
