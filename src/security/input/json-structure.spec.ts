import { describe, expect, it } from 'vitest';
import { checkJsonStructure } from './json-structure.js';
import { percentDecode } from './body-parsers.js';

const check = (text: string) => checkJsonStructure(Buffer.from(text), { maxDepth: 3, maxKeys: 4, maxArrayLength: 3 });

describe(checkJsonStructure.name, () => {
  it('accepts documents within the bounds', () => {
    expect(check('{"a":{"b":[1,2,3]},"c":"x"}')).toBeNull();
    expect(check('[[[]]]')).toBeNull();
    expect(check('[]')).toBeNull();
    expect(check('"\\u00e9 \\ud83d\\ude00 \\\\u0000 \\" {[{[{["')).toBeNull();
  });

  it('refuses nesting past the bound, counting objects and arrays alike', () => {
    expect(check('[[[[]]]]')).toBe('nested deeper than 3 levels');
    expect(check('{"a":[{"b":[]}]}')).toBe('nested deeper than 3 levels');
    // No recursion: a million levels cost one pass.
    expect(checkJsonStructure(Buffer.from('['.repeat(1_000_000)))).toBe('nested deeper than 32 levels');
  });

  it('counts keys over the whole document, not inside strings', () => {
    expect(check('{"a":1,"b":{"c":2,"d":"x:y:z"}}')).toBeNull();
    expect(check('{"a":1,"b":{"c":2,"d":3,"e":4}}')).toBe('more than 4 keys');
  });

  it('bounds each array, not the commas of objects or strings', () => {
    expect(check('[1,2,3]')).toBeNull();
    expect(check('[1,2,3,4]')).toBe('an array longer than 3 elements');
    expect(check('[[1,2,3],[1,2,3],"a,b,c,d"]')).toBeNull();
  });

  it('refuses escaped NUL and unpaired surrogates', () => {
    expect(check('{"a":"x\\u0000"}')).toMatch(/NUL/);
    expect(check('{"a":"\\ud800"}')).toMatch(/surrogate/);
    expect(check('{"a":"\\ud800\\u0041"}')).toMatch(/surrogate/);
    expect(check('{"a":"\\udc00"}')).toMatch(/surrogate/);
    expect(check('{"a":"\\uD83D\\uDE00"}')).toBeNull();
  });
});

describe(percentDecode.name, () => {
  it('decodes %XX and leaves everything else', () => {
    expect([...percentDecode(Buffer.from('a%00b%ff%4G%+%4'))]).toEqual([...Buffer.from('a\u0000b'), 0xff, ...Buffer.from('%4G%+%4')]);
  });
});
