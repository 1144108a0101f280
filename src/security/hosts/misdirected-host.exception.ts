import { ErrorCode } from '../../core/errors/error-code.js';
import { AppException } from '../../core/errors/app.exception.js';

/**
 * 400 VALIDATION_FAILED rather than 421 Misdirected Request: the contract's codes each have one
 * fixed status and none is 421, and to a client a Host we do not serve is a bad request header.
 * The refused name is not echoed.
 */
export class MisdirectedHostException extends AppException {
  constructor() {
    super(ErrorCode.VALIDATION_FAILED, 'This host name is not served here', {
      details: [{ path: 'header.host', message: 'not in ALLOWED_HOSTS' }],
    });
  }
}
