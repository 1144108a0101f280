import { describe, expect, it } from 'vitest';
import { parseRoleRules } from '../../config/directory-config.js';
import { roleFor } from './role-rules.js';

const { rules } = parseRoleRules('admin=cn=admins,dc=x;operator=cn=ops,dc=x;viewer=cn=view,dc=x');

describe(roleFor.name, () => {
  it('the first matching rule wins, whatever order the groups come in', () => {
    expect(roleFor(['cn=view,dc=x', 'cn=ops,dc=x'], rules)).toBe('operator');
    expect(roleFor(['cn=view,dc=x', 'cn=admins,dc=x', 'cn=ops,dc=x'], rules)).toBe('admin');
  });

  it('no matching rule is no role (no sign-in), unless a `*` rule catches everyone found', () => {
    expect(roleFor(['cn=other,dc=x'], rules)).toBeNull();
    expect(roleFor([], rules)).toBeNull();
    expect(roleFor([], parseRoleRules('admin=cn=admins,dc=x;viewer=*').rules)).toBe('viewer');
  });
});
