import type { SecurityConfig } from '../../config/rampart-config.js';

/**
 * The named budgets. `login`, `reset` and `csp-report` are per client IP and apply to the
 * routes that carry `@RateLimit(name)`; `account` is per user id on every authenticated
 * `/api/*` route.
 */
export type RatePolicyName = 'login' | 'reset' | 'csp-report' | 'account';
export type IpRatePolicyName = Exclude<RatePolicyName, 'account'>;

export interface RatePolicy {
  name: RatePolicyName;
  limit: number;
  windowMs: number;
  /** How long a subject stays refused once it goes over: one window, like @nestjs/throttler's default. */
  blockMs: number;
}

/** Browsers send one report per violation; a page that violates a few times per load stays well below. */
export const CSP_REPORTS_PER_MIN = 60;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const policy = (name: RatePolicyName, limit: number, windowMs: number): RatePolicy => ({ name, limit, windowMs, blockMs: windowMs });

export function ratePolicies(security: Pick<SecurityConfig, 'loginPerMin' | 'resetPerHour' | 'accountPerMin'>): Record<RatePolicyName, RatePolicy> {
  return {
    login: policy('login', security.loginPerMin, MINUTE),
    // No password-reset route exists yet; whichever appears carries @RateLimit('reset').
    reset: policy('reset', security.resetPerHour, HOUR),
    'csp-report': policy('csp-report', CSP_REPORTS_PER_MIN, MINUTE),
    account: policy('account', security.accountPerMin, MINUTE),
  };
}
