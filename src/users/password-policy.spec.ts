import { describe, expect, it } from 'vitest';
import { PASSWORD_MAX_LENGTH, passwordPolicyViolations } from './password-policy.js';

describe(passwordPolicyViolations.name, () => {
  it('accepts a long enough password that is not the username', () => {
    expect(passwordPolicyViolations('correct horse battery', 'alice')).toEqual([]);
  });

  it('refuses one shorter than 12 characters, counting code points rather than UTF-16 units', () => {
    expect(passwordPolicyViolations('short-pw-11', 'alice')[0]?.message).toMatch(/at least 12/);
    // 11 astral characters are 22 UTF-16 units but 11 characters.
    expect(passwordPolicyViolations('😀'.repeat(11), 'alice')[0]?.message).toMatch(/at least 12/);
    expect(passwordPolicyViolations('😀'.repeat(12), 'alice')).toEqual([]);
  });

  it('refuses one longer than the login form accepts', () => {
    expect(passwordPolicyViolations('x'.repeat(PASSWORD_MAX_LENGTH + 1), 'alice')[0]?.message).toMatch(/at most 1024/);
  });

  it('refuses the username, whatever its case and surrounding spaces', () => {
    expect(passwordPolicyViolations(' Operator-Jane1 ', 'operator-jane1')).toEqual([{ path: 'newPassword', message: 'must not be the username' }]);
  });
});
