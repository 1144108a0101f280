import type { Logger } from 'pino';
import type { LogLevelMessage, RuntimeLogLevel } from '../cluster/protocol.js';

export interface LogLevelView {
  /** The level this process logs at now. */
  level: string;
  /** LOG_LEVEL, what it reverts to. */
  configured: string;
  /** The runtime level in force (PUT /admin/api/log-level), or null. */
  override: { level: RuntimeLogLevel; revertsAt: string; reason: string; setBy: string } | null;
}

/**
 * This process's side of a runtime log level: sets the root logger's level (child loggers
 * without a level of their own follow it) and reverts by itself when the time is up, whatever
 * the primary says or fails to say.
 */
export class LogLevelControl {
  private override: LogLevelView['override'] = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly logger: Logger,
    private readonly configured: string,
    private readonly now: () => number = Date.now,
  ) {}

  apply(change: LogLevelMessage): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (change.level === null || change.remainingMs <= 0) {
      this.revert();
      return;
    }
    this.override = {
      level: change.level,
      revertsAt: change.revertsAt !== '' ? change.revertsAt : new Date(this.now() + change.remainingMs).toISOString(),
      reason: change.reason,
      setBy: change.setBy,
    };
    this.logger.level = change.level;
    // At warn so it is seen whatever the level: someone turned the volume up (or down).
    this.logger.warn({ level: change.level, revertsAt: this.override.revertsAt, reason: change.reason, setBy: change.setBy }, `log level ${change.level} until ${this.override.revertsAt}`);
    this.timer = setTimeout(() => this.revert(), change.remainingMs);
    this.timer.unref();
  }

  view(): LogLevelView {
    return { level: this.logger.level, configured: this.configured, override: this.override ? { ...this.override } : null };
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private revert(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.override === null && this.logger.level === this.configured) return;
    const was = this.logger.level;
    this.override = null;
    this.logger.level = this.configured;
    this.logger.warn({ level: this.configured, was }, `log level back to LOG_LEVEL ${this.configured}`);
  }
}
