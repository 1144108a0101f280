import { describe, expect, it } from 'vitest';
import { prepared, preparedName } from './prepared-statement.js';

describe(prepared.name, () => {
  it('returns the text unchanged and names it after its leading comment', () => {
    const text = '/* spec.prepared_one */ SELECT id FROM lots WHERE id = $1';
    expect(prepared(text)).toBe(text);
    expect(preparedName(text)).toBe('spec.prepared_one');
    // Registering the same constant again (a module loaded twice in tests) is harmless.
    expect(prepared(text)).toBe(text);
  });

  it('leaves texts that were not registered unnamed', () => {
    expect(preparedName('/* spec.never_registered */ SELECT 1')).toBeUndefined();
  });

  it('refuses a second text under a name already prepared', () => {
    prepared('/* spec.prepared_two */ SELECT 1');
    expect(() => prepared('/* spec.prepared_two */ SELECT 2')).toThrow(/two statements are prepared as spec.prepared_two/);
  });

  it('refuses a text without a usable name', () => {
    expect(() => prepared('SELECT id FROM lots WHERE id = $1')).toThrow(/leading \/\* name \*\/ comment/);
    expect(() => prepared("/* robert'); DROP TABLE x; -- */ SELECT 1")).toThrow(/leading/);
  });
});
