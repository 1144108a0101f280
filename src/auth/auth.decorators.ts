import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Role } from '../database/entities/index.js';

export const IS_PUBLIC = 'rampart:public';
export const REQUIRED_ROLE = 'rampart:role';
export const ALLOWED_BEFORE_PASSWORD_CHANGE = 'rampart:allowed-before-password-change';

/** Reachable without a session (login, CSRF token, health, metrics). */
export const Public = () => SetMetadata(IS_PUBLIC, true);

/**
 * Callable by a session that signed in with a one-time password and has not changed it yet
 * (the password change itself, /me, logout, the CSRF token); every other route is 403 for it.
 */
export const AllowedBeforePasswordChange = () => SetMetadata(ALLOWED_BEFORE_PASSWORD_CHANGE, true);

/** The least role that may call the route; roles are ordered viewer < operator < admin. */
export const RequireRole = (role: Role) => SetMetadata(REQUIRED_ROLE, role);

export interface AuthenticatedUser {
  id: number;
  username: string;
  role: Role;
}

/** The session's user; the global session guard guarantees it on non-public routes. */
export const CurrentUser = createParamDecorator((_data: unknown, ctx: ExecutionContext): AuthenticatedUser | undefined => {
  return ctx.switchToHttp().getRequest<{ user?: AuthenticatedUser }>().user;
});
