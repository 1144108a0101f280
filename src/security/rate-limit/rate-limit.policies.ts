import type { SecurityConfig } from '../../config/rampart-config.js';

/**
 * The named budgets. `login`, `reset`, `csp-report` and `anonymous` are per client IP and
 * apply to the routes that carry `@RateLimit(name)`; `account` is per user id on every
 * authenticated `/api/*` route; `login-account` counts failed logins per username and
 * `ldap-account` those of them that reached the directory (see LoginFailureBudget).
 */
export type RatePolicyName = 'login' | 'reset' | 'csp-report' | 'anonymous' | 'account' | 'login-account' | 'ldap-account';
export type IpRatePolicyName = Exclude<RatePolicyName, 'account' | 'login-account' | 'ldap-account'>;

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

export function ratePolicies(
  security: Pick<SecurityConfig, 'loginPerMin' | 'resetPerHour' | 'accountPerMin' | 'anonymousPerMin' | 'loginFailures'>,
): Record<RatePolicyName, RatePolicy> {
  const failures = security.loginFailures;
  const failureWindowMs = failures.windowS * 1000;
  return {
    login: policy('login', security.loginPerMin, MINUTE),
    // POST /api/auth/password and POST /password (self-service change); the admin reset is admin-only and audited.
    reset: policy('reset', security.resetPerHour, HOUR),
    'csp-report': policy('csp-report', CSP_REPORTS_PER_MIN, MINUTE),
    // Starts anonymous sessions: bounds how many one client can keep alive (rate x SESSION_ANONYMOUS_TIMEOUT_S).
    anonymous: policy('anonymous', security.anonymousPerMin, MINUTE),
    account: policy('account', security.accountPerMin, MINUTE),
    // blockMs is the longest delay; the first exhaustion blocks for one window, each next one twice the last.
    'login-account': {
      name: 'login-account',
      limit: failures.perAccount,
      windowMs: failureWindowMs,
      blockMs: Math.max(failureWindowMs, failures.maxDelayS * 1000),
    },
    // Every refused directory attempt may be a bad-password count at the directory (AD locks the
    // account at lockoutThreshold): a budget of its own, well below the one for any name.
    'ldap-account': {
      name: 'ldap-account',
      limit: failures.directoryPerAccount,
      windowMs: failureWindowMs,
      blockMs: Math.max(failureWindowMs, failures.maxDelayS * 1000),
    },
  };
}
