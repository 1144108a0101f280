import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealtimeService } from '../../src/realtime/realtime.service.js';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { type BrowserSession, loginWith } from '../support/session.js';

/** Reads an SSE response as it arrives, so the test can wait for a frame. */
function reader(response: Response) {
  const stream = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let ended = false;
  const pump = (async () => {
    for (;;) {
      const { done, value } = await stream.read();
      if (done) break;
      text += decoder.decode(value);
    }
    ended = true;
  })().catch(() => {
    ended = true;
  });
  return {
    text: () => text,
    ended: () => ended,
    async waitFor(pattern: RegExp, timeoutMs = 5000): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(text)) {
        if (Date.now() > deadline) throw new Error(`no ${pattern} in stream within ${timeoutMs} ms; got:\n${text}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return text;
    },
    cancel: async () => {
      await stream.cancel().catch(() => undefined);
      await pump;
    },
  };
}

describe('GET /api/events/stream (realtime sync)', () => {
  let app: TestApp;
  let session: BrowserSession;
  beforeAll(async () => {
    app = await startTestApp({ SSE_MAX_SUBSCRIBERS: '2', SSE_HEARTBEAT_MS: '200' });
    session = await loginWith(app.url, TEST_ADMIN.username, TEST_ADMIN.password);
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('streams lot changes from LISTEN/NOTIFY, with heartbeats', async () => {
    const response = await fetch(`${app.url}/api/events/stream`, { headers: { cookie: session.cookie } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    // It depends on the session, like every API answer: never kept by a browser or a shared cache.
    expect(response.headers.get('cache-control')).toMatch(/\bno-store\b/);
    const sse = reader(response);
    try {
      await sse.waitFor(/: connected/);
      await app.db.query(`UPDATE lots SET status = 'hold' WHERE id = 7`);
      const text = await sse.waitFor(/event: change\ndata: .*"entity":"lot".*\n\n/);
      const data = JSON.parse(/event: change\ndata: (.*)\n/.exec(text)![1]!) as { id: number; status: string };
      expect(data).toMatchObject({ id: 7, status: 'hold' });
      await sse.waitFor(/: heartbeat/);
    } finally {
      await sse.cancel();
    }
  });

  it('reconnects its LISTEN connection after the database drops it, and keeps streaming', async () => {
    const response = await fetch(`${app.url}/api/events/stream`, { headers: { cookie: session.cookie } });
    const sse = reader(response);
    const realtime = app.app.get(RealtimeService);
    try {
      await sse.waitFor(/: connected/);
      const [killed] = await app.db.query<{ n: number }>(
        `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = 'rampart:listen' AND datname = $1`,
        [app.db.name],
      );
      expect(killed!.n).toBe(1);
      const deadline = Date.now() + 10_000;
      while (!realtime.connected || (await app.db.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'rampart:listen' AND datname = $1`, [app.db.name])).length === 0) {
        if (Date.now() > deadline) throw new Error('LISTEN connection did not come back');
        await new Promise((r) => setTimeout(r, 50));
      }
      await app.db.query(`UPDATE lots SET status = 'running' WHERE id = 8`);
      await sse.waitFor(/"id":8,"status":"running"/);
      expect(sse.ended()).toBe(false);
    } finally {
      await sse.cancel();
    }
  });

  it('refuses subscribers past SSE_MAX_SUBSCRIBERS with a retryable 429 RATE_LIMITED', async () => {
    const first = reader(await fetch(`${app.url}/api/events/stream`, { headers: { cookie: session.cookie } }));
    const second = reader(await fetch(`${app.url}/api/events/stream`, { headers: { cookie: session.cookie } }));
    try {
      await first.waitFor(/: connected/);
      await second.waitFor(/: connected/);
      const third = await fetch(`${app.url}/api/events/stream`, { headers: { cookie: session.cookie } });
      expect(third.status).toBe(429);
      const body = (await third.json()) as { error: { code: string; retryable: boolean; retryAfterMs: number } };
      expect(body.error.code).toBe('RATE_LIMITED');
      expect(body.error.retryable).toBe(true);
      expect(third.headers.get('retry-after')).toBe(String(Math.ceil(body.error.retryAfterMs / 1000)));
    } finally {
      await first.cancel();
      await second.cancel();
    }
  });
});
