import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT_FRESH_MS } from '../../src/security/session/account-status.js';
import { SessionBackend } from '../../src/security/session/session-backend.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { loginAs, loginWith, SESSION_TEST_ENV } from '../support/session.js';
import { openStream, type SseReader } from '../support/sse.js';

const CHECK_MS = 300;

describe('a live stream belongs to its session', () => {
  let prompt: TestApp;
  let bounded: TestApp;

  beforeAll(async () => {
    // A periodic check far beyond the test: whatever ends a stream here is the session event itself.
    prompt = await startTestApp({ ...SESSION_TEST_ENV, SSE_SESSION_CHECK_MS: '60000', SSE_MAX_SUBSCRIBERS: '8' });
    // Sessions idle out after 2 s and end 5 s after login whatever happens; streams re-check them every 300 ms.
    bounded = await startTestApp({
      ...SESSION_TEST_ENV,
      SSE_SESSION_CHECK_MS: String(CHECK_MS),
      SESSION_IDLE_TIMEOUT_S: '2',
      SESSION_ABSOLUTE_TIMEOUT_S: '5',
    });
  });
  afterAll(async () => {
    await Promise.all([prompt?.stop(), bounded?.stop()]);
  });

  it('ends at once, with a final `event: end` "logged_out", when its session logs out', async () => {
    const viewer = await loginAs(prompt, 'viewer');
    const stream = await openStream(prompt.url, viewer.cookie);
    try {
      const started = Date.now();
      expect((await viewer.post('/api/auth/logout')).status).toBe(204);
      expect(await stream.waitForEnd(1000)).toBe('logged_out');
      console.info(`[session-bound-stream] logout -> stream end ${stream.endedAt()! - started} ms`);
    } finally {
      await stream.cancel();
    }
  });

  it('only the logged-out session\'s streams end; the same user\'s other session keeps streaming', async () => {
    const first = await loginAs(prompt, 'viewer');
    const second = await loginWith(prompt.url, first.user.username, first.user.password);
    const a = await openStream(prompt.url, first.cookie);
    const b = await openStream(prompt.url, second.cookie);
    try {
      await first.post('/api/auth/logout');
      expect(await a.waitForEnd(1000)).toBe('logged_out');
      await prompt.db.query(`UPDATE lots SET status = 'hold' WHERE id = 3`);
      await b.waitFor(/"id":3,"status":"hold"/);
      expect(b.ended()).toBe(false);
    } finally {
      await a.cancel();
      await b.cancel();
    }
  });

  it('refuses a user\'s 6th stream (SSE_MAX_PER_USER=5) with 429 RATE_LIMITED and Retry-After, while another user still connects', async () => {
    const greedy = await loginAs(prompt, 'viewer');
    const other = await loginAs(prompt, 'viewer');
    const streams: SseReader[] = [];
    try {
      for (let i = 0; i < 5; i += 1) streams.push(await openStream(prompt.url, greedy.cookie));
      const sixth = await fetch(`${prompt.url}/api/events/stream`, { headers: { cookie: greedy.cookie } });
      expect(sixth.status).toBe(429);
      const body = (await sixth.json()) as { error: { code: string; retryable: boolean; retryAfterMs: number } };
      expect(body.error.code).toBe('RATE_LIMITED');
      expect(body.error.retryable).toBe(true);
      expect(sixth.headers.get('retry-after')).toBe(String(Math.ceil(body.error.retryAfterMs / 1000)));
      streams.push(await openStream(prompt.url, other.cookie));
      // A closed stream frees its slot.
      await streams[0]!.cancel();
      const deadline = Date.now() + 2000;
      let again: Response;
      for (;;) {
        again = await fetch(`${prompt.url}/api/events/stream`, { headers: { cookie: greedy.cookie } });
        if (again.status === 200 || Date.now() > deadline) break;
        await again.body?.cancel();
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(again.status).toBe(200);
      await again.body?.cancel();
    } finally {
      for (const stream of streams) await stream.cancel();
    }
  });

  it('ends within the check bound, "expired", when its session is deleted from the store by other means', async () => {
    const viewer = await loginAs(bounded, 'viewer');
    const stream = await openStream(bounded.url, viewer.cookie);
    try {
      const deleted = Date.now();
      await bounded.app.get(SessionBackend).remove(viewer.sid);
      expect(await stream.waitForEnd(CHECK_MS * 3)).toBe('expired');
      console.info(`[session-bound-stream] deleted session -> stream end ${stream.endedAt()! - deleted} ms (check every ${CHECK_MS} ms)`);
    } finally {
      await stream.cancel();
    }
  });

  it('does not keep an idle session alive: the stream ends "expired" when the idle timeout passes', async () => {
    const viewer = await loginAs(bounded, 'viewer');
    const stream = await openStream(bounded.url, viewer.cookie);
    try {
      const opened = Date.now();
      // Heartbeats and change events flow meanwhile; neither is the user's activity.
      await bounded.db.query(`UPDATE lots SET status = 'hold' WHERE id = 4`);
      expect(await stream.waitForEnd(2000 + CHECK_MS * 3)).toBe('expired');
      expect(Date.now() - opened).toBeGreaterThanOrEqual(1500);
      expect((await viewer.get('/api/auth/me')).status).toBe(401);
    } finally {
      await stream.cancel();
    }
  });

  it('ends "disabled" within the bound when its user is disabled in SQL, with no request to notice it', async () => {
    const operator = await loginAs(bounded, 'operator');
    const stream = await openStream(bounded.url, operator.cookie);
    try {
      await bounded.db.query('UPDATE users SET disabled = true WHERE id = $1', [operator.user.id]);
      expect(await stream.waitForEnd(ACCOUNT_FRESH_MS + CHECK_MS * 3)).toBe('disabled');
      // The stream's check revoked the sessions themselves, not only the stream.
      expect(await bounded.app.get(SessionBackend).read(operator.sid)).toBeNull();
    } finally {
      await stream.cancel();
    }
  });

  it('keeps streaming while the session is in use', async () => {
    const viewer = await loginAs(bounded, 'viewer');
    const stream = await openStream(bounded.url, viewer.cookie);
    try {
      for (let i = 0; i < 6; i += 1) {
        await new Promise((r) => setTimeout(r, 500));
        expect((await viewer.get('/api/auth/me')).status).toBe(200);
      }
      expect(stream.ended()).toBe(false);
    } finally {
      await stream.cancel();
    }
  });

  it('ends "expired" at the absolute timeout although the session is in use all along', async () => {
    const viewer = await loginAs(bounded, 'viewer');
    const loggedIn = Date.now();
    const stream = await openStream(bounded.url, viewer.cookie);
    try {
      while (!stream.ended() && Date.now() - loggedIn < 5000 + CHECK_MS * 4) {
        await viewer.get('/api/auth/me');
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(await stream.waitForEnd(100)).toBe('expired');
      expect(stream.endedAt()! - loggedIn).toBeGreaterThanOrEqual(4900);
      expect((await viewer.get('/api/auth/me')).status).toBe(401);
    } finally {
      await stream.cancel();
    }
  });
});
