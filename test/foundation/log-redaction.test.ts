import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { loginWith } from '../support/session.js';
import { createTestDatabase } from '../support/database.js';
import { LogCapture } from '../support/logs.js';
import { startApp } from '../../src/bootstrap.js';

describe('credential redaction in logs', () => {
  it('never logs the password of a database URL, even when the connection fails', async () => {
    const logs = new LogCapture();
    await expect(
      startApp({
        env: {
          NODE_ENV: 'test',
          PORT: '0',
          DATABASE_URL: 'postgres://rampart:Hunter2Secret@127.0.0.1:1/rampart',
          DB_CONNECT_TIMEOUT_MS: '1000',
        },
        logDestination: logs,
      }),
    ).rejects.toThrow();
    const text = logs.text();
    expect(text).toContain('startup failed');
    // The target is logged (an operator needs the host), the password is not.
    expect(text).toContain('rampart:[REDACTED]@127.0.0.1:1');
    expect(text).not.toContain('Hunter2Secret');
  });

  it('never logs the password of a Redis URL that cannot be reached', async () => {
    const db = await createTestDatabase();
    const logs = new LogCapture();
    try {
      await expect(
        startApp({
          env: { NODE_ENV: 'test', PORT: '0', DATABASE_URL: db.url, REDIS_URL: 'redis://:RedisPassw0rd@127.0.0.1:1/0' },
          logDestination: logs,
        }),
      ).rejects.toThrow();
    } finally {
      await db.drop();
    }
    expect(logs.text()).toContain('startup failed');
    expect(logs.text()).not.toContain('RedisPassw0rd');
  });

  describe('request logging', () => {
    let app: TestApp;
    beforeAll(async () => {
      app = await startTestApp();
    });
    afterAll(async () => {
      await app?.stop();
    });

    it('logs method, route, status and correlation id but no cookie, CSRF token or authorization', async () => {
      const response = await fetch(`${app.url}/nope/abc?token=QuerySecret123`, {
        headers: {
          cookie: 'sid=s%3ACookieSecret123.sig',
          'x-csrf-token': 'CsrfSecret123',
          authorization: 'Bearer BearerSecret123',
          'x-correlation-id': 'redaction-check-1',
        },
      });
      expect(response.status).toBe(404);
      await new Promise((r) => setTimeout(r, 50));
      const line = app.logs.entries().find((e) => e.correlationId === 'redaction-check-1' && typeof e.responseTimeMs === 'number');
      expect(line).toBeDefined();
      expect(line).toMatchObject({ req: { method: 'GET', url: '/nope/abc' }, res: { statusCode: 404 } });
      const text = app.logs.text();
      for (const secret of ['CookieSecret123', 'CsrfSecret123', 'BearerSecret123', 'QuerySecret123']) expect(text).not.toContain(secret);
    });

    it('puts the correlation id and the user on every line written while serving a request', async () => {
      const session = await loginWith(app.url, TEST_ADMIN.username, TEST_ADMIN.password);
      const response = await fetch(`${app.url}/api/lots?limit=1`, { headers: session.headers({ 'x-correlation-id': 'ctx-check-1' }) });
      expect(response.status).toBe(200);
      // A line logged inside request handling by the CSRF layer, not by the request logger.
      const refused = await fetch(`${app.url}/api/lots/1/notes`, {
        method: 'POST',
        headers: { ...session.headers({ 'x-correlation-id': 'ctx-check-2' }), 'x-csrf-token': 'wrong' },
        body: JSON.stringify({ text: 'x' }),
      });
      expect(refused.status).toBe(403);
      await new Promise((r) => setTimeout(r, 50));
      const [admin] = await app.db.query<{ id: number }>(`SELECT id FROM users WHERE username = $1`, [TEST_ADMIN.username]);
      const served = app.logs.entries().filter((e) => e.correlationId === 'ctx-check-1');
      expect(served.length).toBeGreaterThan(0);
      for (const line of served) expect(line.userId).toBe(admin!.id);
      const refusedLines = app.logs.entries().filter((e) => e.correlationId === 'ctx-check-2');
      expect(refusedLines.map((e) => e.msg)).toContain('CSRF check refused the request');
      expect(refusedLines.every((e) => e.userId === admin!.id)).toBe(true);
    });
  });
});
