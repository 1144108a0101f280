export {
  ApiClient,
  createApiClient,
  type ApiClientHooks,
  type ApiClientOptions,
  type FetchLike,
  type GiveUpEvent,
  type GiveUpReason,
  type QueryParams,
  type RequestEvent,
  type RequestOptions,
  type ResponseEvent,
  type RetryEvent,
  type RetryPolicy,
} from './client.js';
export {
  ApiError,
  ERROR_CODES,
  isErrorEnvelope,
  type ApiErrorCode,
  type ApiErrorInit,
  type ClientErrorCode,
  type ErrorCode,
  type ErrorDetail,
  type ErrorEnvelope,
} from './errors.js';
export { fullJitterDelay, parseRetryAfter, type HttpMethod } from './retry.js';
export type * from './types.js';
export { ENDPOINTS, SHAPES, type Endpoint, type Shape, type ShapeName, type ShapeTypes } from './shapes.js';
