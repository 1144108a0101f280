import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '../../observability/observability.tokens.js';
import { AccountStatus, type RevocationCause } from './account-status.js';
import { RampartSessionStore } from './rampart-session.store.js';
import type { SessionEndReason } from './session-events.js';
import { SessionEvents } from './session-events.js';

/** What a live stream tells its browser for each cause. */
export function endReasonOf(cause: RevocationCause): SessionEndReason {
  return cause === 'disabled' || cause === 'deleted' ? 'disabled' : 'revoked';
}

/**
 * Ends every session of a user at once, on every worker and replica: the sessions are deleted
 * from the store (Redis: one atomic script over the user's index), so the next request of any
 * of them is 401, and their live streams are told to end. What user management calls after
 * disabling a user, changing a role, or changing or resetting a password; and what the
 * operator's sign-out calls.
 */
@Injectable()
export class SessionRevocation {
  constructor(
    private readonly store: RampartSessionStore,
    private readonly events: SessionEvents,
    private readonly accounts: AccountStatus,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
  ) {}

  /** Resolves to how many sessions were live; throws SESSION_STORE_UNAVAILABLE when the store is down. */
  async revokeUser(userId: number, reason: RevocationCause): Promise<number> {
    // The next request on this worker reads the row again rather than trusting what it knew.
    this.accounts.forget(userId);
    const revoked = await this.store.revokeUser(userId);
    this.events.publish({ kind: 'user', userId, reason: endReasonOf(reason) });
    this.logger.info({ event: 'sessions-revoked', userId, reason, revoked }, 'ended every session of a user');
    return revoked;
  }
}
