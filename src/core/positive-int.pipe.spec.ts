import { describe, expect, it } from 'vitest';
import { ValidationFailedException } from './errors/index.js';
import { PositiveIntPipe } from './positive-int.pipe.js';

const pipe = new PositiveIntPipe();
const meta = { type: 'param' as const, data: 'id' };

describe(PositiveIntPipe.name, () => {
  it('accepts ids within PostgreSQL int', () => {
    expect(pipe.transform('1', meta)).toBe(1);
    expect(pipe.transform('2147483647', meta)).toBe(2_147_483_647);
  });

  it.each(['0', '-1', '01', '1.5', '1e3', 'abc', '', '2147483648', '99999999999', ' 1', '0x10', '1e1', '+1', '1.0', '１', 42, Number.NaN, 1.5, -3])('refuses %j with VALIDATION_FAILED naming the parameter', (value: string | number) => {
    expect(() => pipe.transform(value, meta)).toThrow(ValidationFailedException);
    try {
      pipe.transform(value, meta);
    } catch (error) {
      expect((error as ValidationFailedException).details).toEqual([{ path: 'id', message: expect.stringContaining('id must be') }]);
    }
  });
});
