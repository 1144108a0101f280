import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import express from 'express';
import { AppException, ErrorCode, ValidationFailedException } from '../../core/errors/index.js';
import { checkJsonStructure, JSON_BOUNDS, type JsonBounds } from './json-structure.js';

type Handler = (req: Request, res: Response, next: NextFunction) => void;

/**
 * Routes whose bodies are small by nature get a limit far below `BODY_LIMIT`: an anonymous
 * login has no reason to send 95 KB. Matched before routing, so by method and path as Express
 * would match them (case-insensitive, optional trailing slash); a route not listed here gets
 * `BODY_LIMIT`. Each limit leaves room for every field at its maximum length in the costliest
 * legal spelling: JSON `\uXXXX` escapes (6 bytes per UTF-16 unit, which is what the DTO lengths
 * count) or, for forms, percent-encoded 3-byte UTF-8 (9 bytes per unit).
 */
export const ROUTE_BODY_LIMITS: ReadonlyArray<{ method: string; path: RegExp; bytes: number }> = [
  // username 256 + password 1024 units: 7.7 KB as JSON escapes, 11.5 KB percent-encoded
  { method: 'POST', path: /^\/api\/auth\/login\/?$/i, bytes: 8 * 1024 },
  { method: 'POST', path: /^\/login\/?$/i, bytes: 16 * 1024 },
  // note text: 2,000 units, 12 KB as escapes
  { method: 'POST', path: /^\/api\/lots\/[^/]+\/notes\/?$/i, bytes: 16 * 1024 },
  // restart reason: 500 units, 4.5 KB percent-encoded from the console's form
  { method: 'POST', path: /^\/admin(?:\/api)?\/worker\/restart\/?$/i, bytes: 8 * 1024 },
];

/** `BODY_LIMIT`'s syntax (`100kb`, `1mb`, `512b`) in bytes. */
export function parseByteSize(text: string): number {
  const match = /^(\d+)(b|kb|mb)$/i.exec(text.trim());
  if (!match) throw new Error(`not a byte size: ${text}`);
  const unit = match[2]!.toLowerCase();
  return Number(match[1]) * (unit === 'mb' ? 1024 * 1024 : unit === 'kb' ? 1024 : 1);
}

function bodyLimitFor(req: IncomingMessage, path: string, fallback: number): number {
  for (const route of ROUTE_BODY_LIMITS) if (route.method === req.method && route.path.test(path)) return Math.min(route.bytes, fallback);
  return fallback;
}

const charsetRefused = () =>
  new AppException(ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'Request bodies must be UTF-8: send no charset or charset=utf-8');
const notUtf8 = () => new ValidationFailedException([{ path: 'body', message: 'the body is not valid UTF-8' }]);
const isUtf8Label = (encoding: string | null) => encoding === 'utf-8' || encoding === 'utf8';

/**
 * body-parser's `verify` hook: it sees the raw bytes after the size limit and before decoding
 * and parsing, so a refusal here costs one pass over what was read. body-parser would decode
 * any `utf-*` charset (utf-7 turned `+ADw-script+AD4-` into `<script>`); only UTF-8 passes.
 */
export function verifyJsonBody(bounds: JsonBounds = JSON_BOUNDS) {
  return (_req: IncomingMessage, _res: unknown, bytes: Buffer, encoding: string | null): void => {
    if (!isUtf8Label(encoding)) throw charsetRefused();
    if (!isUtf8(bytes)) throw notUtf8();
    const problem = checkJsonStructure(bytes, bounds);
    if (problem !== null) throw new ValidationFailedException([{ path: 'body', message: problem }], 'The request body is outside the accepted bounds');
  };
}

const hex = (c: number): number => (c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1);

/** The bytes a form body stands for: `%XX` decoded, everything else as it is (one pass). */
export function percentDecode(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i += 1) {
    const c = bytes[i]!;
    const high = c === 0x25 && i + 2 < bytes.length ? hex(bytes[i + 1]!) : -1;
    const low = high >= 0 ? hex(bytes[i + 2]!) : -1;
    if (low >= 0) {
      out[n++] = high * 16 + low;
      i += 2;
    } else out[n++] = c;
  }
  return out.subarray(0, n);
}

/** The same for HTML forms: the percent-decoded bytes must be UTF-8 without NUL. */
function verifyFormBody(_req: IncomingMessage, _res: unknown, bytes: Buffer, encoding: string | null): void {
  if (!isUtf8Label(encoding)) throw charsetRefused();
  const decoded = percentDecode(bytes);
  if (decoded.includes(0)) throw new ValidationFailedException([{ path: 'body', message: 'text must not contain NUL' }]);
  if (!isUtf8(decoded)) throw notUtf8();
}

/** At most this many form fields; the forms have three or four. */
export const FORM_PARAMETER_LIMIT = 50;

/**
 * The app-wide JSON and form parsers, with a per-route size limit and the checks above.
 * One parser per distinct limit, built once.
 */
export function bodyParsers(bodyLimit: string): Handler[] {
  const fallback = parseByteSize(bodyLimit);
  const limits = new Set([fallback, ...ROUTE_BODY_LIMITS.map((route) => Math.min(route.bytes, fallback))]);
  const json = new Map<number, Handler>();
  const form = new Map<number, Handler>();
  const verifyJson = verifyJsonBody();
  for (const limit of limits) {
    json.set(limit, express.json({ limit, strict: true, verify: verifyJson }));
    form.set(limit, express.urlencoded({ limit, extended: false, parameterLimit: FORM_PARAMETER_LIMIT, verify: verifyFormBody }));
  }
  // A request with neither header has no body: the parsers would only find that out (type-is's
  // hasBody, their first test) after their own bookkeeping, on every GET.
  const pick = (parsers: Map<number, Handler>): Handler => (req, res, next) => {
    if (req.headers['transfer-encoding'] === undefined && req.headers['content-length'] === undefined) return next();
    parsers.get(bodyLimitFor(req, req.path, fallback))!(req, res, next);
  };
  return [pick(json), pick(form)];
}
