import type { NextFunction, Request, Response } from 'express';
import express from 'express';
import { AppException, ErrorCode } from '../../core/errors/index.js';
import { verifyJsonBody } from '../input/body-parsers.js';

export const CSP_REPORT_BODY_LIMIT = '16kb';
export const CSP_REPORT_TYPES = ['application/csp-report', 'application/reports+json'] as const;

/**
 * Body parsing for POST /csp-report only, mounted before the app-wide parsers: the two report
 * media types as JSON, 16 KB at most (413 beyond, checked against Content-Length before
 * reading), anything else refused with 415 before a byte of the body is read.
 */
export function cspReportBodyParser(): (req: Request, res: Response, next: NextFunction) => void {
  const parse = express.json({ type: [...CSP_REPORT_TYPES], limit: CSP_REPORT_BODY_LIMIT, strict: true, verify: verifyJsonBody() });
  return (req, res, next) => {
    if (req.method !== 'POST') return next();
    if (!req.is([...CSP_REPORT_TYPES])) {
      return next(new AppException(ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'CSP reports must be application/csp-report or application/reports+json'));
    }
    parse(req, res, next);
  };
}
