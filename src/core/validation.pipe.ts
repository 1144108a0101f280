import { type ArgumentMetadata, ValidationPipe, type ValidationError } from '@nestjs/common';
import { type ErrorDetail, MAX_ERROR_DETAILS, ValidationFailedException } from './errors/index.js';

/**
 * The first MAX_ERROR_DETAILS `{path, message}` pairs, depth first, without recursion. 9,600
 * unknown keys once made 9,600 details (a 584 KB answer to a 95 KB request); the envelope caps
 * them anyway, this only stops building what would be thrown away.
 */
export function flattenValidationErrors(errors: ValidationError[]): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  const stack: Array<{ error: ValidationError; prefix: string }> = errors.map((error) => ({ error, prefix: '' })).reverse();
  while (stack.length > 0 && details.length < MAX_ERROR_DETAILS) {
    const { error, prefix } = stack.pop()!;
    const path = prefix ? `${prefix}.${error.property}` : error.property;
    for (const message of Object.values(error.constraints ?? {})) details.push({ path, message });
    const children = error.children ?? [];
    for (let i = children.length - 1; i >= 0; i -= 1) stack.push({ error: children[i]!, prefix: path });
  }
  return details.slice(0, MAX_ERROR_DETAILS);
}

/**
 * Query and path primitives reach their own pipes as sent: Nest's conversion (`+value`) reads
 * `0x10`, `1e1` and `+1` as numbers, and the checks after it could no longer tell.
 */
class RampartValidationPipe extends ValidationPipe {
  protected override transformPrimitive(value: unknown, _metadata: ArgumentMetadata): unknown {
    return value;
  }
}

/** DTO validation with the contract's `VALIDATION_FAILED` and `details: [{path, message}]`. */
export function createValidationPipe(): ValidationPipe {
  return new RampartValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: true,
    stopAtFirstError: false,
    exceptionFactory: (errors) => new ValidationFailedException(flattenValidationErrors(errors)),
  });
}
