import { SHAPES, type ShapeName } from '@rampart/api-client';

/** One field description of `SHAPES` (`Lot[]|null?` and so on), taken apart. */
export interface FieldSpec {
  kind: string;
  array: boolean;
  nullable: boolean;
  optional: boolean;
}

export function parseSpec(spec: string): FieldSpec {
  let rest = spec;
  const optional = rest.endsWith('?');
  if (optional) rest = rest.slice(0, -1);
  const nullable = rest.endsWith('|null');
  if (nullable) rest = rest.slice(0, -'|null'.length);
  const array = rest.endsWith('[]');
  if (array) rest = rest.slice(0, -2);
  return { kind: rest, array, nullable, optional };
}

export const isShapeName = (kind: string): kind is ShapeName => Object.hasOwn(SHAPES, kind);

const fieldsOf = (name: ShapeName) => SHAPES[name] as Readonly<Record<string, string>>;

// ---- against a JSON value (a live response) ----

function kindMismatch(value: unknown, kind: string, where: string): string[] {
  if (isShapeName(kind)) return valueMismatches(value, kind, where);
  const actual = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
  return actual === kind ? [] : [`${where}: expected ${kind}, got ${actual}`];
}

/** Every way `value` differs from the shape: missing or extra keys, wrong kinds, unexpected nulls. */
export function valueMismatches(value: unknown, name: ShapeName, where: string = name): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${where}: expected an object (${name})`];
  const problems: string[] = [];
  const fields = fieldsOf(name);
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) if (!Object.hasOwn(fields, key)) problems.push(`${where}.${key}: not in the client's ${name}`);
  for (const [key, spec] of Object.entries(fields)) {
    const field = parseSpec(spec);
    const at = `${where}.${key}`;
    if (!Object.hasOwn(record, key)) {
      if (!field.optional) problems.push(`${at}: missing`);
      continue;
    }
    const item = record[key];
    if (item === null) {
      if (!field.nullable) problems.push(`${at}: null, but the client's type does not allow null`);
      continue;
    }
    if (field.array) {
      if (!Array.isArray(item)) problems.push(`${at}: expected an array`);
      else item.forEach((element, i) => problems.push(...kindMismatch(element, field.kind, `${at}[${i}]`)));
    } else problems.push(...kindMismatch(item, field.kind, at));
  }
  return problems;
}

// ---- against an OpenAPI 3.0 schema ----

export interface OpenApiSchema {
  $ref?: string;
  type?: string;
  nullable?: boolean;
  enum?: unknown[];
  properties?: Record<string, OpenApiSchema>;
  required?: string[];
  items?: OpenApiSchema;
  allOf?: OpenApiSchema[];
  anyOf?: OpenApiSchema[];
  additionalProperties?: boolean | OpenApiSchema;
}

export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: OpenApiSchema }> }> }>>;
  components: { schemas: Record<string, OpenApiSchema> };
}

/** A `$ref` (possibly wrapped in `allOf`, or `anyOf` with null for nullable ones) resolved; null when the schema is inline. */
export function refOf(schema: OpenApiSchema): string | null {
  if (schema.$ref !== undefined) return schema.$ref;
  if (schema.allOf?.length === 1 && schema.allOf[0]!.$ref !== undefined) return schema.allOf[0]!.$ref;
  // A nullable reference as src/core/openapi.ts writes it: the reference, or null.
  if (schema.anyOf?.length === 2 && schema.anyOf[0]!.$ref !== undefined && schema.anyOf[1]!.enum?.length === 1 && schema.anyOf[1]!.enum[0] === null) return schema.anyOf[0]!.$ref;
  return null;
}

export function resolve(doc: OpenApiDocument, ref: string): OpenApiSchema {
  const prefix = '#/components/schemas/';
  if (!ref.startsWith(prefix)) throw new Error(`unsupported $ref ${ref}`);
  const schema = doc.components.schemas[ref.slice(prefix.length)];
  if (schema === undefined) throw new Error(`dangling $ref ${ref}`);
  return schema;
}

function schemaKindMismatch(doc: OpenApiDocument, schema: OpenApiSchema, kind: string, where: string, seen: Set<string>): string[] {
  const ref = refOf(schema);
  if (isShapeName(kind)) {
    if (ref === null) return [`${where}: the client expects ${kind}, the server documents an inline ${schema.type ?? 'schema'}`];
    return schemaMismatches(doc, resolve(doc, ref), kind, where, seen, ref);
  }
  if (ref !== null) return [`${where}: the client expects ${kind}, the server documents ${ref}`];
  const type = schema.type === 'integer' ? 'number' : schema.type;
  return type === kind ? [] : [`${where}: the client expects ${kind}, the server documents ${schema.type ?? 'no type'}`];
}

/** Every way the server's schema differs from the client's shape: property names, required, nullable, kinds, nested shapes. */
export function schemaMismatches(
  doc: OpenApiDocument,
  schema: OpenApiSchema,
  name: ShapeName,
  where: string = name,
  seen = new Set<string>(),
  ref = '',
): string[] {
  const key = `${name}=${ref}`;
  if (ref !== '' && seen.has(key)) return [];
  seen.add(key);
  const fields = fieldsOf(name);
  const properties = schema.properties ?? {};
  const required = new Set(schema.required ?? []);
  const problems: string[] = [];
  for (const property of Object.keys(properties)) {
    if (!Object.hasOwn(fields, property)) problems.push(`${where}.${property}: documented by the server, missing from the client's ${name}`);
  }
  for (const [property, spec] of Object.entries(fields)) {
    const at = `${where}.${property}`;
    const documented = properties[property];
    if (documented === undefined) {
      problems.push(`${at}: in the client's ${name}, not documented by the server`);
      continue;
    }
    const field = parseSpec(spec);
    if (field.optional === required.has(property)) {
      problems.push(`${at}: the client says ${field.optional ? 'optional' : 'required'}, the server ${required.has(property) ? 'required' : 'optional'}`);
    }
    if (field.nullable !== (documented.nullable === true)) {
      problems.push(`${at}: the client says ${field.nullable ? '' : 'not '}nullable, the server ${documented.nullable === true ? '' : 'not '}nullable`);
    }
    if (field.array) {
      if (documented.type !== 'array' || documented.items === undefined) problems.push(`${at}: the client expects an array, the server documents ${documented.type ?? 'no type'}`);
      else problems.push(...schemaKindMismatch(doc, documented.items, field.kind, `${at}[]`, seen));
    } else problems.push(...schemaKindMismatch(doc, documented, field.kind, at, seen));
  }
  return problems;
}
