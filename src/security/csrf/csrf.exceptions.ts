import { AppException, ErrorCode } from '../../core/errors/index.js';

export class CsrfInvalidException extends AppException {
  constructor() {
    super(
      ErrorCode.CSRF_INVALID,
      'The request failed CSRF validation: send the token from GET /api/auth/csrf as X-CSRF-Token (or form field _csrf) from this site',
    );
  }
}

export class UnsupportedMediaTypeException extends AppException {
  constructor() {
    super(ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'This endpoint accepts only application/json request bodies');
  }
}
