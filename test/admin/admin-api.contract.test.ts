import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { responseValidator, type ResponseValidator } from '../support/openapi-validator.js';
import { loginWith, SESSION_TEST_ENV, type BrowserSession } from '../support/session.js';

/**
 * Real admin API answers from a running server, validated against the server's own
 * `/api/docs-json` with Ajv: what a contract checker proxying real
 * traffic through the document would flag (e.g. `rollout: null` documented as a plain object).
 */
describe('admin API answers validate against /api/docs-json', () => {
  let app: TestApp;
  let admin: BrowserSession;
  let contract: ResponseValidator;

  beforeAll(async () => {
    app = await startTestApp({ ...SESSION_TEST_ENV });
    admin = await loginWith(app.url, TEST_ADMIN.username, TEST_ADMIN.password);
    contract = await responseValidator(app.url);
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
  }, 30_000);

  async function check(path: string, method: 'get' | 'put', init: { query?: string; body?: unknown } = {}): Promise<unknown> {
    const response =
      method === 'get' ? await admin.get(`${path}${init.query ?? ''}`) : await admin.request('PUT', path, { body: JSON.stringify(init.body) });
    expect(response.status, `${method} ${path}`).toBe(200);
    const body: unknown = await response.json();
    expect(contract.problems(path, method, 200, body), `${method.toUpperCase()} ${path}`).toEqual([]);
    return body;
  }

  it('GET /admin/api/worker/status, single mode (rollout: null), matches its schema', async () => {
    const body = (await check('/admin/api/worker/status', 'get')) as { mode: string; rollout: unknown };
    expect(body.mode).toBe('single');
    expect(body.rollout).toBeNull();
  });

  it('GET /admin/api/system-status matches its schema', async () => {
    const body = (await check('/admin/api/system-status', 'get')) as { rollout: unknown };
    expect(body.rollout).toBeNull();
  });

  it('GET /admin/api/audit and PUT /admin/api/log-level match their schemas', async () => {
    await check('/admin/api/log-level', 'put', { body: { level: 'debug', minutes: 1, reason: 'contract check' } });
    const entries = (await check('/admin/api/audit', 'get', { query: '?limit=5' })) as unknown[];
    expect(entries.length).toBeGreaterThan(0);
  });

  it('the validator is not blind: a rollout that is a string fails the worker status schema', () => {
    const validate = contract.validatorFor('/admin/api/worker/status', 'get', 200);
    expect(validate({ mode: 'single', workers: [], emptySlots: [], history: [], policy: {}, cooldownRemainingS: 0, nextAction: '', rollout: 'x' })).toBe(false);
  });
});
