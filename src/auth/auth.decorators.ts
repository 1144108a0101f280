import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Role } from '../database/entities/index.js';

export const IS_PUBLIC = 'rampart:public';
export const REQUIRED_ROLE = 'rampart:role';

/** Reachable without a session (login, CSRF token, health, metrics). */
export const Public = () => SetMetadata(IS_PUBLIC, true);

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
