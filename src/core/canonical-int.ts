import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { ValidateBy, type ValidationArguments } from 'class-validator';

/** PostgreSQL `int`'s upper bound: larger ids made the query fail with a 500. */
export const INT4_MAX = 2_147_483_647;

/** Plain decimal digits, no sign, no leading zero, at most 10 digits (INT4_MAX has 10). */
const CANONICAL = /^(?:0|[1-9]\d{0,9})$/;

/**
 * The number a query or path text stands for, or null unless it is written the one canonical
 * way. `Number()` also reads `0x10`, `1e1`, `01`, `+1`, ` 1` and `1.0`; such forms are refused,
 * so that a value has exactly one spelling (caches, logs, and limits all see the same thing).
 */
export function parseCanonicalInt(text: unknown, min: number, max = INT4_MAX): number | null {
  if (typeof text !== 'string' || !CANONICAL.test(text)) return null;
  const value = Number(text);
  return value >= min && value <= max ? value : null;
}

/**
 * A query field that is an integer from `min` to `max` written in canonical digits. Replaces
 * `@Type(() => Number) @IsInt() @Min() @Max()`, which accepted every spelling `Number()` reads
 * and let 99999999999 through to PostgreSQL.
 */
export function IsCanonicalInt(min: number, max = INT4_MAX): PropertyDecorator {
  return applyDecorators(
    // Anything not canonical stays as sent, and the rule below refuses it.
    Transform(({ value }: { value: unknown }) => parseCanonicalInt(value, min, max) ?? value),
    ValidateBy({
      name: 'isCanonicalInt',
      validator: {
        validate: (value: unknown) => typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max,
        defaultMessage: (args?: ValidationArguments) => `${args?.property ?? 'value'} must be an integer from ${min} to ${max} in plain decimal digits`,
      },
    }),
  );
}
