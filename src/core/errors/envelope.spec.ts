import { HttpException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { ValidationFailedException } from './app.exception.js';
import { MAX_ERROR_DETAILS, toErrorResponse } from './envelope.js';

describe(toErrorResponse.name, () => {
  it('caps details in number and length, so an answer stays small whatever the request held', () => {
    const many = Array.from({ length: 9_600 }, (_, i) => ({ path: `k${i}`.repeat(1000), message: `property k${i} should not exist`.repeat(100) }));
    const { status, body } = toErrorResponse(new ValidationFailedException(many), 'id');
    expect(status).toBe(400);
    expect(body.error.details).toHaveLength(MAX_ERROR_DETAILS);
    expect(JSON.stringify(body).length).toBeLessThan(3000);
  });

  it('answers what a body-parser verify hook threw, which Nest hands over wrapped in an HttpException', () => {
    const thrown = new ValidationFailedException([{ path: 'body', message: 'nested deeper than 32 levels' }]);
    const wrapped = new HttpException('x', 400, { cause: thrown });
    const { body, unexpected } = toErrorResponse(wrapped, 'id');
    expect(unexpected).toBe(false);
    expect(body.error.details).toEqual([{ path: 'body', message: 'nested deeper than 32 levels' }]);
  });

  it('maps any client error of the parsers to a 4xx without a stack, and an unknown 4xx HttpException to 400', () => {
    const parserError = Object.assign(new Error('weird'), { type: 'something.new', status: 400, statusCode: 400, expose: true });
    expect(toErrorResponse(new HttpException('weird', 400, { cause: parserError }), 'id')).toMatchObject({ status: 400, unexpected: false });
    expect(toErrorResponse(parserError, 'id')).toMatchObject({ status: 400, unexpected: false });
    expect(toErrorResponse(new HttpException('Gone', 410), 'id')).toMatchObject({ status: 400, unexpected: false });
    expect(toErrorResponse(new Error('boom'), 'id')).toMatchObject({ status: 500, unexpected: true });
  });
});
