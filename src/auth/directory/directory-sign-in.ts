import type { Logger } from 'pino';
import type { DirectoryConfig, DirectoryRole } from '../../config/directory-config.js';
import { AuthProviderUnavailableException } from '../../core/errors/index.js';
import type { Bulkhead } from '../../resilience/admission/bulkhead.js';
import { type BreakerFailureModel, type BreakerOptions, BreakerService, type BreakerSnapshot } from '../../resilience/breaker.service.js';
import { DirectoryError, type DirectoryVerdict, type LdapDirectory } from './ldap-directory.js';
import { roleFor } from './role-rules.js';

/** DI token: the DirectorySignIn, or null when AUTH_PROVIDERS does not include ldap. */
export const DIRECTORY = Symbol('DIRECTORY');

/**
 * The directory's breaker. Fixed rather than configurable: a handful of failed sign-ins in a
 * row is already a clear signal for a dependency that sees a few requests a minute, and while
 * it is open the health ping (not user sign-ins) finds out when the directory is back.
 */
export const DIRECTORY_BREAKER: Omit<BreakerOptions, 'failures'> = {
  name: 'directory',
  failureRate: 0.5,
  windowMs: 30_000,
  minVolume: 5,
  openMs: 5_000,
  openMaxMs: 60_000,
  halfOpenProbes: 1,
  recoveryProbeMs: 2_000,
};

export const DIRECTORY_FAILURES: BreakerFailureModel = {
  isFailure: (error) => error instanceof DirectoryError,
  isUnreachable: (error) => error instanceof DirectoryError && error.unreachable,
  rejection: (retryAfterMs) => new AuthProviderUnavailableException(retryAfterMs),
};

/** A directory verdict with the role the rules give (null: no rule matches, no sign-in). */
export type DirectoryOutcome =
  | { kind: 'not-found' }
  | { kind: 'refused' }
  | { kind: 'accepted'; dn: string; role: DirectoryRole | null };

/**
 * Directory sign-in behind its breaker and bulkhead: a verdict, or 503 AUTH_PROVIDER_UNAVAILABLE
 * (with the breaker's wait, or one open period while it is still closed) when the directory
 * gives none. At most `bulkhead` sign-ins hold a directory connection at once.
 */
export class DirectorySignIn {
  readonly breaker: BreakerService;

  constructor(
    readonly directory: LdapDirectory,
    private readonly config: DirectoryConfig,
    private readonly bulkhead: Bulkhead,
    private readonly logger: Logger,
  ) {
    this.breaker = new BreakerService({ ...DIRECTORY_BREAKER, failures: DIRECTORY_FAILURES });
    this.breaker.setRecoveryProbe(() => this.directory.ping());
    this.breaker.onStateChange((change) => {
      const level = change.to === 'open' ? 'error' : change.to === 'closed' ? 'info' : 'warn';
      this.logger[level]({ breaker: 'directory', ...change }, `directory circuit ${change.from} -> ${change.to}`);
    });
  }

  /** LDAP_SESSION_MAX_S: the longest a directory user's session lives. */
  get sessionMaxS(): number {
    return this.config.sessionMaxS;
  }

  async check(username: string, password: string): Promise<DirectoryOutcome> {
    let verdict: DirectoryVerdict;
    try {
      verdict = await this.breaker.execute(() => this.bulkhead.run(() => this.directory.authenticate(username, password)));
    } catch (error) {
      if (!(error instanceof DirectoryError)) throw error;
      this.logger.warn({ event: 'directory-unavailable', err: { message: error.message } }, 'the directory gave no verdict');
      throw new AuthProviderUnavailableException(DIRECTORY_BREAKER.openMs, error);
    }
    if (verdict.kind !== 'accepted') return { kind: verdict.kind };
    return { kind: 'accepted', dn: verdict.dn, role: roleFor(verdict.groups, this.config.rules) };
  }

  /** For /health/deep: the breaker, and whether the service account can bind right now. */
  snapshot(): BreakerSnapshot {
    return this.breaker.snapshot();
  }

  ping(): Promise<void> {
    return this.directory.ping();
  }

  async close(): Promise<void> {
    this.breaker.shutdown();
    await this.directory.close();
  }
}
