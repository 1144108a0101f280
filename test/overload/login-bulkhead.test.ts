import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PasswordHasher } from '../../src/auth/password-hasher.js';
import { AdmissionController } from '../../src/resilience/admission/admission-controller.js';
import type { Bulkhead } from '../../src/resilience/admission/bulkhead.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { anonymousSession, createUser, loginAs, type BrowserSession, type LoggedIn, SESSION_TEST_ENV, type TestUser } from '../support/session.js';

// A logon storm of STORM simultaneous sign-ins against a password-hash bulkhead of one
// operation and two waiters: the bulkhead never runs more than one argon2 at a time, refuses
// the excess with OVERLOADED, and a signed-in user's reads keep being served throughout.
const STORM = 24;

describe('password-hash bulkhead under a logon storm', () => {
  let app: TestApp;
  let reader: LoggedIn;
  let victim: TestUser;
  let pre: BrowserSession[];

  beforeAll(async () => {
    app = await startTestApp({
      ...SESSION_TEST_ENV,
      PASSWORD_HASH_CONCURRENCY: '1',
      PASSWORD_HASH_QUEUE: '2',
      PASSWORD_HASH_QUEUE_TIMEOUT_MS: '5000',
      // The general limit stays out of the way: this is the bulkhead's test.
      ADMISSION_MIN_LIMIT: '64',
      ADMISSION_INITIAL_LIMIT: '64',
    });
    reader = await loginAs(app, 'viewer');
    victim = await createUser(app, 'operator');
    pre = await Promise.all(Array.from({ length: STORM }, () => anonymousSession(app.url)));
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('caps concurrent hashing, refuses the excess logins with OVERLOADED, and reads carry on', async () => {
    const admission = app.app.get(AdmissionController);
    let peakActive = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        for (const b of admission.snapshot().bulkheads) if (b.name === 'password-hash') peakActive = Math.max(peakActive, b.active);
        await new Promise((r) => setImmediate(r));
      }
    })();

    let storming = true;
    const reads: { status: number; ms: number }[] = [];
    const readLoop = (async () => {
      while (storming) {
        const started = performance.now();
        const response = await reader.get('/api/lots?limit=5');
        await response.arrayBuffer();
        reads.push({ status: response.status, ms: performance.now() - started });
      }
    })();

    const logins = await Promise.all(
      pre.map(async (session) => {
        const response = await session.post('/api/auth/login', { username: victim.username, password: victim.password });
        const body = (await response.json()) as { error?: { code: string; retryAfterMs: number | null } };
        return { status: response.status, code: body.error?.code ?? null, retryAfter: response.headers.get('retry-after'), retryAfterMs: body.error?.retryAfterMs ?? null };
      }),
    );
    storming = false;
    await readLoop;
    sampling = false;
    await sampler;

    const ok = logins.filter((l) => l.status === 200);
    const refused = logins.filter((l) => l.status === 503);
    expect(ok.length + refused.length, JSON.stringify(logins)).toBe(STORM);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) expect(r).toMatchObject({ code: 'OVERLOADED', retryAfter: '1', retryAfterMs: 1000 });
    // The one running and the two that waited got in.
    expect(ok.length).toBeGreaterThanOrEqual(3);
    expect(peakActive).toBe(1);
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.every((r) => r.status === 200)).toBe(true);

    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metrics).toMatch(/rampart_bulkhead_refused_total\{bulkhead="password-hash"\} [1-9]/);
  });

  it('while the bulkhead is full, refuses sign-ins before their session, CSRF and user lookup', async () => {
    // Fill the bulkhead for certain: one operation running and two waiting, held by the test.
    const bulkhead = (app.app.get(PasswordHasher) as unknown as { bulkhead: Bulkhead }).bulkhead;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const holders = [0, 1, 2].map(() => bulkhead.run(() => gate));
    try {
      expect(bulkhead.snapshot()).toMatchObject({ active: 1, queued: 2 });
      // No session, no CSRF token: once routed this is 403 (CSRF); refused first, it is 503.
      const bare = await fetch(`${app.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: victim.username, password: victim.password }) });
      expect(bare.status).toBe(503);
      expect(((await bare.json()) as { error: { code: string } }).error.code).toBe('OVERLOADED');
      const form = await fetch(`${app.url}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=a&password=b' });
      expect(form.status).toBe(503);
      // Everything else of the sign-in lane still works (the CSRF endpoint, logout).
      expect((await fetch(`${app.url}/api/auth/csrf`)).status).toBe(200);
      const metrics = await (await fetch(`${app.url}/metrics`)).text();
      expect(metrics).toMatch(/rampart_admission_shed_total\{lane="signin",reason="bulkhead"\} 2/);
    } finally {
      release();
      await Promise.all(holders);
    }
    // Free again: a sign-in goes through.
    const session = await anonymousSession(app.url);
    expect((await session.post('/api/auth/login', { username: victim.username, password: victim.password })).status).toBe(200);
  });
});
