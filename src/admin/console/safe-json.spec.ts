import { describe, expect, it } from 'vitest';
import { escapeHtml } from '../../core/html.js';
import { scriptSafeJson } from './safe-json.js';

describe(scriptSafeJson.name, () => {
  it('cannot close its script element or open a comment', () => {
    const out = scriptSafeJson({ reason: '</script><script>alert(1)</script><!--' });
    expect(out).not.toMatch(/[<>]/);
    expect(JSON.parse(out)).toEqual({ reason: '</script><script>alert(1)</script><!--' });
  });

  it('escapes ampersands and the JavaScript line terminators', () => {
    const out = scriptSafeJson({ a: 'x&y\u2028z\u2029' });
    expect(out).not.toMatch(/[&\u2028\u2029]/);
    expect(JSON.parse(out)).toEqual({ a: 'x&y\u2028z\u2029' });
  });
});

describe(escapeHtml.name, () => {
  it('escapes markup and quotes', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
