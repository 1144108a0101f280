import { applyDecorators, type INestApplication } from '@nestjs/common';
import { ApiExtraModels, ApiProperty, ApiPropertyOptional, ApiResponse, DocumentBuilder, type OpenAPIObject, SwaggerModule, getSchemaPath } from '@nestjs/swagger';
import { ErrorCode } from './errors/error-code.js';

class ErrorDetailDto {
  @ApiProperty() path!: string;
  @ApiProperty() message!: string;
}

class ErrorBodyDto {
  @ApiProperty({ enum: Object.values(ErrorCode) }) code!: string;
  @ApiProperty() message!: string;
  @ApiProperty() retryable!: boolean;
  @ApiProperty({ type: Number, nullable: true, description: 'Also sent as Retry-After (seconds, rounded up)' })
  retryAfterMs!: number | null;
  @ApiProperty() correlationId!: string;
  @ApiPropertyOptional({ type: [ErrorDetailDto] }) details?: ErrorDetailDto[];
}

export class ErrorEnvelopeDto {
  @ApiProperty({ type: ErrorBodyDto }) error!: ErrorBodyDto;
}

const envelope = { $ref: getSchemaPath(ErrorEnvelopeDto) };

/** The error envelope of CONTRACT.md on every documented route. */
export const ApiErrorResponses = () =>
  applyDecorators(
    ApiExtraModels(ErrorEnvelopeDto, ErrorBodyDto, ErrorDetailDto),
    ApiResponse({ status: 400, description: 'VALIDATION_FAILED', schema: envelope }),
    ApiResponse({ status: 401, description: 'UNAUTHENTICATED', schema: envelope }),
    ApiResponse({ status: 403, description: 'FORBIDDEN or CSRF_INVALID', schema: envelope }),
    ApiResponse({ status: 404, description: 'NOT_FOUND', schema: envelope }),
    ApiResponse({ status: 413, description: 'PAYLOAD_TOO_LARGE', schema: envelope }),
    ApiResponse({ status: 415, description: 'UNSUPPORTED_MEDIA_TYPE (JSON endpoints accept application/json only)', schema: envelope }),
    ApiResponse({ status: 429, description: 'RATE_LIMITED (Retry-After)', schema: envelope }),
    ApiResponse({
      status: 503,
      description: 'DB_POOL_EXHAUSTED, DB_CIRCUIT_OPEN, DB_UNAVAILABLE, SHUTTING_DOWN or SESSION_STORE_UNAVAILABLE (Retry-After)',
      schema: envelope,
    }),
    ApiResponse({ status: 504, description: 'DB_QUERY_TIMEOUT', schema: envelope }),
    ApiResponse({ status: 500, description: 'INTERNAL (logged with the correlation id)', schema: envelope }),
  );

/** A documented error status specific to one route (e.g. 409 RESTART_BLOCKED). */
export const ApiErrorResponse = (status: number, description: string) => ApiResponse({ status, description, schema: envelope });

/** The OpenAPI document of every documented route; served by src/api-docs (or not, per API_DOCS). */
export function createOpenApiDocument(app: INestApplication, version: string): OpenAPIObject {
  return nullableReferences(SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Rampart dashboard API')
      .setDescription('Every non-2xx JSON response is an ErrorEnvelope. Retryable errors carry retryAfterMs and Retry-After.')
      .setVersion(version)
      .addCookieAuth('sid')
      .build(),
    { extraModels: [ErrorEnvelopeDto] },
  ));
}

type SchemaNode = Record<string, unknown>;

/**
 * Nest writes a nullable reference (`@ApiProperty({ type: Dto, nullable: true })`) as
 * `{ nullable, type: object, allOf: [$ref] }`, which every strict validator reads as "an
 * object": the `allOf` rejects null whatever `nullable` says (OpenAPI 3.0.3 clarified it only
 * widens a `type` in the same schema). Rewritten as "the reference, or null" so a contract
 * checker accepts the `null` the API really sends (e.g. `rollout` in single mode).
 */
export function nullableReferences(document: OpenAPIObject): OpenAPIObject {
  for (const schema of Object.values(document.components?.schemas ?? {}) as SchemaNode[]) {
    const properties = (schema['properties'] ?? {}) as Record<string, SchemaNode>;
    for (const [name, property] of Object.entries(properties)) {
      const allOf = property['allOf'] as SchemaNode[] | undefined;
      if (property['nullable'] !== true || allOf?.length !== 1 || typeof allOf[0]?.['$ref'] !== 'string') continue;
      const { allOf: _ref, ...rest } = property;
      // `type` stays beside `nullable` (3.0.3: nullable only widens a type in the same schema).
      properties[name] = { ...rest, type: 'object', nullable: true, anyOf: [allOf[0], { type: 'object', nullable: true, enum: [null] }] };
    }
  }
  return document;
}
