/**
 * Structural bounds of a JSON body, checked on its raw bytes before `JSON.parse` and before
 * class-transformer and class-validator walk it. Those walk recursively and cost per key:
 * 95 KB of `[[[[…` overflowed class-transformer's stack (a 500 with a stack trace), and 9,600
 * unknown keys cost ~1 s of CPU and a 584 KB error answer. One pass, no recursion, constant
 * memory: the time is proportional to the bytes read.
 */
export interface JsonBounds {
  /** Objects and arrays nested inside each other, the outermost one counting as 1. */
  maxDepth: number;
  /** Object keys in the whole document. */
  maxKeys: number;
  /** Elements of any one array. */
  maxArrayLength: number;
}

export const JSON_BOUNDS: JsonBounds = { maxDepth: 32, maxKeys: 1000, maxArrayLength: 1000 };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;
const LOWER_U = 0x75;

function hexValue(bytes: Uint8Array, at: number): number {
  if (at + 4 > bytes.length) return -1;
  let value = 0;
  for (let i = at; i < at + 4; i += 1) {
    const c = bytes[i]!;
    const digit = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

/**
 * Null when the document is within the bounds, otherwise a short reason. Also refuses the
 * escapes no text field may hold: `\u0000` (PostgreSQL text cannot store NUL) and unpaired
 * surrogates (not encodable as UTF-8). Syntax errors are left to `JSON.parse`, which runs next;
 * the counts here are upper bounds on what a well-formed document contains.
 */
export function checkJsonStructure(bytes: Uint8Array, bounds: JsonBounds = JSON_BOUNDS): string | null {
  // isArray[d] / items[d] describe the container open at depth d (1-based); depth is bounded,
  // so these never grow past maxDepth + 1 entries.
  const isArray = new Uint8Array(bounds.maxDepth + 1);
  const commas = new Uint32Array(bounds.maxDepth + 1);
  let depth = 0;
  let keys = 0;
  let inString = false;
  const length = bytes.length;
  for (let i = 0; i < length; i += 1) {
    const c = bytes[i]!;
    if (inString) {
      if (c === QUOTE) inString = false;
      else if (c === BACKSLASH) {
        i += 1;
        if (bytes[i] !== LOWER_U) continue;
        const unit = hexValue(bytes, i + 1);
        if (unit < 0) continue; // malformed escape: JSON.parse refuses it
        if (unit === 0) return 'text must not contain NUL (\\u0000)';
        if (unit >= 0xdc00 && unit <= 0xdfff) return 'text must be valid Unicode (unpaired surrogate)';
        if (unit >= 0xd800 && unit <= 0xdbff) {
          const low = bytes[i + 5] === BACKSLASH && bytes[i + 6] === LOWER_U ? hexValue(bytes, i + 7) : -1;
          if (low < 0xdc00 || low > 0xdfff) return 'text must be valid Unicode (unpaired surrogate)';
          i += 10; // the pair's second escape is consumed with the first
        } else i += 4;
      }
      continue;
    }
    switch (c) {
      case QUOTE:
        inString = true;
        break;
      case OPEN_OBJECT:
      case OPEN_ARRAY:
        depth += 1;
        if (depth > bounds.maxDepth) return `nested deeper than ${bounds.maxDepth} levels`;
        isArray[depth] = c === OPEN_ARRAY ? 1 : 0;
        commas[depth] = 0;
        break;
      case CLOSE_OBJECT:
      case CLOSE_ARRAY:
        if (depth > 0) depth -= 1;
        break;
      case COLON:
        if (depth > 0 && isArray[depth] === 0) {
          keys += 1;
          if (keys > bounds.maxKeys) return `more than ${bounds.maxKeys} keys`;
        }
        break;
      case COMMA:
        if (depth > 0 && isArray[depth] === 1) {
          const count = commas[depth]! + 1;
          commas[depth] = count;
          if (count >= bounds.maxArrayLength) return `an array longer than ${bounds.maxArrayLength} elements`;
        }
        break;
      default:
        break;
    }
  }
  return null;
}
