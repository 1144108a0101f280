import {
  createApiClient,
  ENDPOINTS,
  ERROR_CODES,
  type Endpoint,
  type FetchLike,
  type ShapeName,
} from '@rampart/api-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_ADMIN, type TestApp } from '../support/app.js';
import { SESSION_TEST_ENV } from '../support/session.js';
import { refOf, resolve, schemaMismatches, valueMismatches, type OpenApiDocument, type OpenApiSchema } from './shape-check.js';
import { browserWire } from './support.js';

// The client's hand-written types (as `SHAPES`, tied to them at compile time) against the
// OpenAPI document the running app serves, and against what the app actually answers.

/** Endpoints whose success body the server does not document; their shape is checked against live answers only. */
// Every body the client reads is documented now; kept so a future exception is explicit.
const UNDOCUMENTED_BODIES = new Set<ShapeName>([]);
const ERROR_STATUSES = ['400', '401', '403', '404', '413', '415', '429', '500', '503', '504'];

const endpoints: readonly Endpoint[] = ENDPOINTS;
const label = (e: Pick<Endpoint, 'method' | 'path'>) => `${e.method} ${e.path}`;

function jsonSchemaOf(doc: OpenApiDocument, endpoint: Endpoint, status: string): OpenApiSchema | undefined {
  return doc.paths[endpoint.path]?.[endpoint.method.toLowerCase()]?.responses[status]?.content?.['application/json']?.schema;
}

describe('api-client types against the OpenAPI document', () => {
  let app: TestApp;
  let doc: OpenApiDocument;

  beforeAll(async () => {
    app = await startTestApp({ ...SESSION_TEST_ENV });
    const response = await fetch(`${app.url}/api/docs-json`);
    expect(response.status).toBe(200);
    doc = (await response.json()) as OpenApiDocument;
  });
  afterAll(async () => {
    await app?.stop();
  });

  function envelopeSchema(): { ref: string; schema: OpenApiSchema } {
    const refs = new Set<string>();
    for (const endpoint of endpoints) {
      for (const status of ERROR_STATUSES) {
        const schema = jsonSchemaOf(doc, endpoint, status);
        expect(schema, `${label(endpoint)} documents ${status}`).toBeDefined();
        refs.add(refOf(schema!) ?? 'inline');
      }
    }
    // One envelope for every error of every endpoint the client calls.
    expect([...refs]).toHaveLength(1);
    const [ref] = refs;
    return { ref: ref!, schema: resolve(doc, ref!) };
  }

  it('documents every path and method the client calls, with the success status it expects', () => {
    const missing = endpoints.filter((e) => doc.paths[e.path]?.[e.method.toLowerCase()]?.responses[String(e.status)] === undefined);
    expect(missing.map((e) => `${label(e)} -> ${e.status}`)).toEqual([]);
  });

  it('ENDPOINTS is exactly what the typed helpers call', async () => {
    const calls = new Set<string>();
    const recording: FetchLike = async (input, init) => {
      calls.add(`${init.method ?? 'GET'} ${new URL(input).pathname}`);
      const body = new URL(input).pathname === '/api/auth/csrf' ? '{"token":"t"}' : '{}';
      return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
    };
    const api = createApiClient({ baseUrl: 'http://client.test', fetch: recording });
    await api.login('u', 'p');
    await api.me();
    await api.changePassword('p', 'a-new-long-password');
    await api.reports.wipSummary();
    await api.reports.equipmentStatus();
    await api.lots.list({ status: 'hold' });
    await api.lots.get(7);
    await api.lots.addNote(7, 'x');
    await api.admin.workerStatus();
    await api.admin.restart({ reason: 'test' });
    await api.logout();
    const templates = [...calls].map((call) => {
      const match = endpoints.find((e) => new RegExp(`^${e.method} ${e.path.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(call));
      expect(match, `${call} is in ENDPOINTS`).toBeDefined();
      return label(match!);
    });
    expect(new Set(templates)).toEqual(new Set(endpoints.map(label)));
  });

  it('has the ErrorEnvelope shape of the client (code, message, retryable, retryAfterMs, correlationId, details)', () => {
    const { ref, schema } = envelopeSchema();
    expect(schemaMismatches(doc, schema, 'ErrorEnvelope', ref)).toEqual([]);
  });

  it('documents exactly the error codes the client knows (ERROR_CODES), no more and no fewer', () => {
    const { schema } = envelopeSchema();
    const body = resolve(doc, refOf(schema.properties!.error!)!);
    const documented = new Set(body.properties!.code!.enum as string[]);
    const known = new Set<string>(ERROR_CODES);
    expect([...documented].filter((code) => !known.has(code)), 'documented by the server, unknown to the client').toEqual([]);
    expect([...known].filter((code) => !documented.has(code)), 'known to the client, not documented by the server').toEqual([]);
  });

  it('documents each response body with the property names, required and nullable fields of the client types', () => {
    const problems: string[] = [];
    const undocumented: string[] = [];
    for (const endpoint of endpoints) {
      if (endpoint.response === null) continue;
      const schema = jsonSchemaOf(doc, endpoint, String(endpoint.status));
      if (schema === undefined) {
        undocumented.push(`${label(endpoint)} (${endpoint.response})`);
        continue;
      }
      const ref = refOf(schema);
      if (ref === null) problems.push(`${label(endpoint)}: inline schema, expected a reference`);
      else problems.push(...schemaMismatches(doc, resolve(doc, ref), endpoint.response, `${label(endpoint)} ${endpoint.response}`));
    }
    expect(problems).toEqual([]);
    expect(undocumented).toEqual(endpoints.filter((e) => e.response !== null && UNDOCUMENTED_BODIES.has(e.response)).map((e) => `${label(e)} (${e.response})`));
    // The ones the issue names, spelled out so a change to ENDPOINTS cannot drop them silently.
    const checked = new Set(endpoints.filter((e) => e.response !== null && !UNDOCUMENTED_BODIES.has(e.response)).map((e) => e.response));
    for (const name of ['WipSummary', 'LotPage', 'LotDetail', 'LotNote', 'EquipmentStatusReport', 'SessionResponse', 'CsrfResponse', 'RestartAccepted', 'WorkerStatus']) {
      expect(checked.has(name as ShapeName), name).toBe(true);
    }
  });

  it('answers, live, with bodies that match the client types exactly', async () => {
    const wire = browserWire(app.url);
    const api = createApiClient({ baseUrl: app.url, fetch: wire.fetch });
    const session = await api.login(TEST_ADMIN.username, TEST_ADMIN.password);
    const page = await api.lots.list({ limit: 3 });
    const answers: [ShapeName, unknown][] = [
      ['SessionResponse', session],
      ['SessionResponse', await api.me()],
      ['WipSummary', await api.reports.wipSummary()],
      ['EquipmentStatusReport', await api.reports.equipmentStatus()],
      ['LotPage', page],
      ['LotDetail', await api.lots.get(page.items[0]!.id)],
      ['LotNote', await api.lots.addNote(page.items[0]!.id, 'shape check')],
      ['WorkerStatus', await api.admin.workerStatus()],
    ];
    // A detail with notes, so the nested note shape is checked too.
    const detail = await api.lots.get(page.items[0]!.id);
    expect(detail.notes.length).toBeGreaterThan(0);
    answers.push(['LotDetail', detail]);

    const invalid = await wire.fetch(`${app.url}/api/lots?limit=0`, { method: 'GET' });
    expect(invalid.status).toBe(400);
    answers.push(['ErrorEnvelope', await invalid.json()]);

    const problems = answers.flatMap(([name, value]) => valueMismatches(value, name));
    expect(problems).toEqual([]);
  });
});
