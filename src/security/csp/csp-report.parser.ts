/** The fields an operator needs to find a violation, and no more; every string is bounded. */
export interface CspViolation {
  documentURL: string | null;
  effectiveDirective: string | null;
  blockedURL: string | null;
  sourceFile: string | null;
  lineNumber: number | null;
  columnNumber: number | null;
  disposition: string | null;
}

export type CspReportFormat = 'csp-report' | 'reports+json';

export interface ParsedCspReports {
  violations: CspViolation[];
  /** Entries that were not CSP violations, or past the per-request cap. */
  ignored: number;
}

/** A 16 KB body can hold a hundred tiny reports; logging the first few says enough. */
export const MAX_VIOLATIONS_PER_REQUEST = 10;
const MAX_URL = 256;
const MAX_TOKEN = 64;

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function text(value: unknown, max: number): string | null {
  if (typeof value !== 'string' || value.length === 0) return null;
  // Control characters would let a report forge extra log lines in a plain-text sink.
  const clean = value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/**
 * URLs without query string and fragment: a page's query may carry tokens or search terms,
 * and an operator needs only where the violation happened.
 */
function url(value: unknown): string | null {
  const raw = text(value, 2048);
  if (raw === null) return null;
  const cut = raw.search(/[?#]/);
  return text(cut === -1 ? raw : raw.slice(0, cut), MAX_URL);
}

function int(value: unknown): number | null {
  const n = typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 1e9 ? n : null;
}

/** `report-uri` (CSP level 2), e.g. `{"csp-report": {"document-uri": ..., "violated-directive": ...}}`. */
function fromLegacy(report: Json): CspViolation {
  return {
    documentURL: url(report['document-uri']),
    effectiveDirective: text(report['effective-directive'] ?? report['violated-directive'], MAX_TOKEN),
    blockedURL: url(report['blocked-uri']),
    sourceFile: url(report['source-file']),
    lineNumber: int(report['line-number']),
    columnNumber: int(report['column-number']),
    disposition: text(report.disposition, MAX_TOKEN),
  };
}

/** Reporting API `csp-violation` body (camelCase keys). */
function fromReportingApi(body: Json): CspViolation {
  return {
    documentURL: url(body.documentURL),
    effectiveDirective: text(body.effectiveDirective ?? body.violatedDirective, MAX_TOKEN),
    blockedURL: url(body.blockedURL),
    sourceFile: url(body.sourceFile),
    lineNumber: int(body.lineNumber),
    columnNumber: int(body.columnNumber),
    disposition: text(body.disposition, MAX_TOKEN),
  };
}

/** Whatever the JSON holds, the result is bounded: at most {@link MAX_VIOLATIONS_PER_REQUEST} small records. */
export function parseCspReports(format: CspReportFormat, body: unknown): ParsedCspReports {
  if (format === 'csp-report') {
    const report = isObject(body) ? body['csp-report'] : undefined;
    return isObject(report) ? { violations: [fromLegacy(report)], ignored: 0 } : { violations: [], ignored: 1 };
  }
  const entries = Array.isArray(body) ? body : [body];
  const violations: CspViolation[] = [];
  let ignored = 0;
  for (const entry of entries) {
    if (!isObject(entry) || entry.type !== 'csp-violation' || !isObject(entry.body) || violations.length >= MAX_VIOLATIONS_PER_REQUEST) {
      ignored += 1;
      continue;
    }
    violations.push(fromReportingApi(entry.body));
  }
  return { violations, ignored };
}
