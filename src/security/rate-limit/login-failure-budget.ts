import { createHmac } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { appendListItem, limitItem, policyItem, RATE_LIMIT_HEADER, RATE_LIMIT_POLICY_HEADER } from './rate-limit.headers.js';
import { RateLimitMetrics } from './rate-limit.metrics.js';
import type { RatePolicy } from './rate-limit.policies.js';
import { RateLimitStore } from './rate-limit.store.js';
import { SessionStoreUnavailableException } from '../session/session-store-unavailable.exception.js';
import { RateLimitedException } from './rate-limited.exception.js';
import type { RateLimiter } from './rate-limiter.service.js';

/** How long past exhaustions of a username are remembered for the doubling (from the first). */
export const STRIKE_MEMORY_MS = 24 * 60 * 60 * 1000;
/** Strikes are counted, never refused: a limit no key reaches. */
const NO_LIMIT = 1_000_000_000;

/** DI token: the LoginFailureBudget of attempts that reach the directory (`ldap-account`). */
export const DIRECTORY_FAILURE_BUDGET = Symbol('DIRECTORY_FAILURE_BUDGET');

/** One admitted attempt: settle it exactly once with the outcome. */
export interface LoginAttempt {
  /** The credentials were refused: the attempt stays counted. */
  failed(): void;
  /** Anything else (success, or an error before a verdict): the attempt is given back. */
  settle(): Promise<void>;
}

/**
 * Failed logins per username across every IP (CONTRACT "Rate limits"; the per-IP `login`
 * budget still applies before this one). An attempt is charged before the password is checked
 * (an atomic INCR, so concurrent guesses cannot overrun the budget while argon2 runs) and given
 * back when it did not fail, so only failures count and a user who knows the password is never
 * the one spending the budget. Past the budget the username is refused with 429 before any
 * password check, known or not, for one window; each further exhaustion within
 * STRIKE_MEMORY_MS doubles that delay up to the policy's `blockMs`. Nothing is locked for
 * good: an attacker can delay the account's owner by at most the current delay.
 *
 * The key is an HMAC of the normalised name, so unknown and known usernames are counted the
 * same way, Redis never holds what people typed into the username field (sometimes a
 * password), and case or Unicode variants of one name share one budget.
 */
export class LoginFailureBudget {
  constructor(
    private readonly store: RateLimitStore,
    private readonly limiter: Pick<RateLimiter, 'storeFailed'>,
    private readonly metrics: RateLimitMetrics,
    private readonly policy: RatePolicy,
    private readonly secret: string,
    private readonly logger: Logger,
  ) {}

  /** The counter's subject for a username: what an operator needs to clear it (see RUNBOOK). */
  subject(username: string): string {
    return createHmac('sha256', this.secret).update(normaliseUsername(username)).digest('base64url');
  }

  /**
   * Charges one attempt against the username, or refuses with 429 when its budget is spent.
   * `res` null: no RateLimit fields (only the refusal's Retry-After), for a budget whose mere
   * presence would tell which names take which path.
   */
  async admit(username: string, res: ServerResponse | null): Promise<LoginAttempt> {
    const subject = this.subject(username);
    const key = `${this.policy.name}:${subject}`;
    const { limit, windowMs, name } = this.policy;
    let hits: number;
    let remainingS: number;
    try {
      // The block set here is one window; a crossing stretches it below (the doubling).
      const record = await this.store.increment(key, windowMs, limit, windowMs, name);
      hits = record.totalHits;
      remainingS = record.isBlocked ? record.timeToBlockExpire : record.timeToExpire;
      if (hits === limit + 1) remainingS = await this.escalate(subject, key);
    } catch (error) {
      // Fails closed, unlike the per-IP budgets, and before any password is checked. The store
      // is the sessions' Redis, so no sign-in could succeed anyway; but a Redis refusing writes
      // (OOM, a read-only replica) still serves session reads, and admitting uncounted would
      // make the answers an oracle (right password: 503 when the session cannot be stored;
      // wrong: 401) with no budget against guessing, and send the guesses to the directory,
      // which would lock the account there. So right and wrong passwords get the same answer.
      this.limiter.storeFailed(error);
      throw new SessionStoreUnavailableException(error);
    }
    if (res !== null) appendListItem(res, RATE_LIMIT_POLICY_HEADER, policyItem(this.policy));
    if (hits > limit) {
      if (res !== null) appendListItem(res, RATE_LIMIT_HEADER, limitItem(name, 0, remainingS));
      this.metrics.rejected(name);
      throw new RateLimitedException(remainingS * 1000);
    }
    // `r` counts this attempt as spent until it is known not to have failed.
    if (res !== null) appendListItem(res, RATE_LIMIT_HEADER, limitItem(name, limit - hits, remainingS));
    let outcome: 'open' | 'failed' | 'settled' = 'open';
    return {
      failed: () => {
        if (outcome === 'open') outcome = 'failed';
      },
      settle: async () => {
        if (outcome !== 'open') return;
        outcome = 'settled';
        try {
          await this.store.refund(key, limit);
        } catch (error) {
          this.limiter.storeFailed(error);
        }
      },
    };
  }

  /** This username's budget was just exhausted: block for one window, doubled per earlier exhaustion. Returns seconds. */
  private async escalate(subject: string, key: string): Promise<number> {
    const strikes = await this.store.increment(`${this.policy.name}-strikes:${subject}`, STRIKE_MEMORY_MS, NO_LIMIT, 0, this.policy.name);
    const delayMs = Math.min(this.policy.windowMs * 2 ** Math.min(strikes.totalHits - 1, 30), this.policy.blockMs);
    const leftMs = await this.store.extend(key, delayMs);
    const delayS = Math.max(1, Math.ceil(leftMs / 1000));
    // Once per exhaustion, not per refusal; `subject` names the key (never the username).
    this.logger.warn({ event: 'login-budget-exhausted', policy: this.policy.name, subject, strikes: strikes.totalHits, delayS }, "a username's failed-login budget is spent");
    return delayS;
  }
}

/** One spelling per name: compatibility forms folded (NFKC), surrounding space dropped, lower case. */
export function normaliseUsername(username: string): string {
  return username.normalize('NFKC').trim().toLowerCase();
}
