/**
 * JSON that can sit inside a <script> element: `<`, `>` and `&` cannot end the element or
 * start a comment, and U+2028/U+2029 cannot break older JavaScript parsers.
 */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

