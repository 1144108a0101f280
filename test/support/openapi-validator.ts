import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

interface OpenApiDocument {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>;
  components: { schemas: Record<string, unknown> };
}

export interface ResponseValidator {
  /** The documented JSON body of `method path status`; throws when there is none. */
  validatorFor(path: string, method: string, status: number): ValidateFunction;
  /** [] when `body` is what the document says, else Ajv's errors. */
  problems(path: string, method: string, status: number, body: unknown): unknown[];
}

/**
 * Validates real answers against the server's own `/api/docs-json` with Ajv (OpenAPI 3.0
 * `nullable` is read natively), as a contract checker proxying real traffic would.
 */
export async function responseValidator(baseUrl: string, headers: Record<string, string> = {}): Promise<ResponseValidator> {
  const response = await fetch(`${baseUrl}/api/docs-json`, { headers });
  if (response.status !== 200) throw new Error(`GET /api/docs-json answered ${response.status}`);
  const doc = (await response.json()) as OpenApiDocument;
  // strict off: OpenAPI keywords (example, description beside $ref) are not JSON Schema.
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema({ $id: 'openapi', components: doc.components });
  const validatorFor = (path: string, method: string, status: number): ValidateFunction => {
    const content = doc.paths[path]?.[method]?.responses[String(status)]?.content?.['application/json'];
    if (!content) throw new Error(`${method.toUpperCase()} ${path} ${status} has no documented JSON body`);
    // Component references resolve inside the document registered above.
    return ajv.compile(JSON.parse(JSON.stringify(content.schema).replaceAll('"#/components/', '"openapi#/components/')) as object);
  };
  return {
    validatorFor,
    problems(path, method, status, body) {
      const validate = validatorFor(path, method, status);
      return validate(body) ? [] : (validate.errors ?? []);
    },
  };
}
