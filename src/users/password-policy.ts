import type { ErrorDetail } from '../core/errors/index.js';

export const PASSWORD_MIN_LENGTH = 12;
/** Also LoginBody's limit: a longer password could never be used to sign in. */
export const PASSWORD_MAX_LENGTH = 1024;

/**
 * The rules a new password must meet that need no stored hash: length (counted in code
 * points, so a passphrase in any script counts what the user typed) and not the username.
 * Reuse of the current or the previous password is checked against their hashes by the caller.
 * Deliberately no composition rules (NIST SP 800-63B): length is what makes a password strong.
 */
export function passwordPolicyViolations(password: string, username: string, path = 'newPassword'): ErrorDetail[] {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) return [{ path, message: `must be at least ${PASSWORD_MIN_LENGTH} characters long` }];
  if (length > PASSWORD_MAX_LENGTH) return [{ path, message: `must be at most ${PASSWORD_MAX_LENGTH} characters long` }];
  const lowered = password.trim().toLowerCase();
  if (lowered === username.toLowerCase()) return [{ path, message: 'must not be the username' }];
  return [];
}
