import { Injectable } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';

/** The OpenAPI document, built once after the routes are known (see setupApiDocs). */
@Injectable()
export class ApiDocsDocument {
  private document: OpenAPIObject | null = null;

  set(document: OpenAPIObject): void {
    this.document = document;
  }

  get(): OpenAPIObject {
    if (this.document === null) throw new Error('the OpenAPI document is served before setupApiDocs built it');
    return this.document;
  }
}
