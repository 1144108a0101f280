import { describe, expect, it } from 'vitest';
import { MAX_VIOLATIONS_PER_REQUEST, parseCspReports } from './csp-report.parser.js';

describe(parseCspReports.name, () => {
  it('reads the legacy report-uri format', () => {
    const parsed = parseCspReports('csp-report', {
      'csp-report': {
        'document-uri': 'https://rampart.example/login?next=/admin&token=abc',
        'violated-directive': 'script-src-elem',
        'effective-directive': 'script-src-elem',
        'blocked-uri': 'inline',
        'source-file': 'https://rampart.example/login',
        'line-number': 12,
        'column-number': 3,
        disposition: 'enforce',
        'original-policy': "default-src 'self'",
      },
    });
    expect(parsed).toEqual({
      violations: [
        {
          documentURL: 'https://rampart.example/login',
          effectiveDirective: 'script-src-elem',
          blockedURL: 'inline',
          sourceFile: 'https://rampart.example/login',
          lineNumber: 12,
          columnNumber: 3,
          disposition: 'enforce',
        },
      ],
      ignored: 0,
    });
  });

  it('reads Reporting API csp-violation entries and ignores other report types', () => {
    const parsed = parseCspReports('reports+json', [
      { type: 'csp-violation', body: { documentURL: 'https://x/a', effectiveDirective: 'img-src', blockedURL: 'https://evil/p.png', disposition: 'report' } },
      { type: 'deprecation', body: { id: 'x' } },
    ]);
    expect(parsed.ignored).toBe(1);
    expect(parsed.violations).toEqual([
      { documentURL: 'https://x/a', effectiveDirective: 'img-src', blockedURL: 'https://evil/p.png', sourceFile: null, lineNumber: null, columnNumber: null, disposition: 'report' },
    ]);
  });

  it('bounds field lengths, strips control characters and caps the number of reports', () => {
    const long = parseCspReports('csp-report', { 'csp-report': { 'document-uri': `https://x/${'a'.repeat(5000)}`, disposition: 'enforce\n{"level":"fatal"}', 'line-number': 'NaN' } });
    const [violation] = long.violations;
    expect(violation?.documentURL?.length).toBeLessThanOrEqual(257);
    expect(violation?.disposition).toBe('enforce{"level":"fatal"}');
    expect(violation?.lineNumber).toBeNull();

    const many = parseCspReports('reports+json', Array.from({ length: 50 }, () => ({ type: 'csp-violation', body: {} })));
    expect(many.violations).toHaveLength(MAX_VIOLATIONS_PER_REQUEST);
    expect(many.ignored).toBe(50 - MAX_VIOLATIONS_PER_REQUEST);
  });

  it('finds nothing in bodies of the wrong shape', () => {
    expect(parseCspReports('csp-report', [1, 2]).violations).toEqual([]);
    expect(parseCspReports('csp-report', { 'csp-report': 'x' }).violations).toEqual([]);
    expect(parseCspReports('reports+json', 'x').violations).toEqual([]);
  });
});
