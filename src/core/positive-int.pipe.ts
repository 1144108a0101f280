import { type ArgumentMetadata, Injectable, type PipeTransform } from '@nestjs/common';
import { INT4_MAX, parseCanonicalInt } from './canonical-int.js';
import { ValidationFailedException } from './errors/index.js';

/**
 * A path id as a PostgreSQL `int`: 1 to 2^31-1 in canonical digits. A regular expression instead of
 * a class-validator DTO, because it sits on the hottest routes and costs a fraction of one.
 * It must see the text as sent: the global ValidationPipe leaves primitives alone for this
 * reason (its `+value` read `0x10` as 16).
 */
@Injectable()
export class PositiveIntPipe implements PipeTransform<unknown, number> {
  transform(value: unknown, metadata: ArgumentMetadata): number {
    const id = parseCanonicalInt(value, 1);
    if (id === null) {
      const path = metadata.data ?? 'id';
      throw new ValidationFailedException([{ path, message: `${path} must be an integer from 1 to ${INT4_MAX}` }]);
    }
    return id;
  }
}
