import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { LogLevelOverride, RuntimeLogLevel, SupervisorStatus } from '../cluster/protocol.js';
import { AppException, ErrorCode, NotFoundException } from '../core/errors/index.js';
import { DatabaseService } from '../database/database.service.js';
import { PoolManager } from '../database/pool-manager.js';
import { REDIS_CLIENT } from '../redis/redis.tokens.js';
import { BreakerService, MAIN_DB_BREAKER } from '../resilience/breaker.service.js';
import { RUNTIME, type Runtime } from '../runtime.js';
import { SessionRevocation } from '../security/session/session-revocation.js';
import { AuditLogService } from './audit-log.service.js';
import { WorkerControl } from './worker-control.js';

export interface Actor {
  id: number;
  username: string;
}

export interface RestartCommand {
  reason: string;
  acknowledgeOverride: boolean;
  actor: Actor;
  correlationId: string;
}

export interface LogLevelCommand {
  level: RuntimeLogLevel;
  minutes: number;
  reason: string;
  actor: Actor;
  correlationId: string;
}

export interface SignOutCommand {
  userId: number;
  reason: string;
  actor: Actor;
  correlationId: string;
}

/** Operator actions and the status they are based on. Every action is audited before it acts. */
@Injectable()
export class AdminService {
  constructor(
    private readonly workers: WorkerControl,
    private readonly audit: AuditLogService,
    private readonly pool: PoolManager,
    @Inject(MAIN_DB_BREAKER) private readonly breaker: BreakerService,
    @Inject(REDIS_CLIENT) private readonly redis: Redis | null,
    @Inject(RUNTIME) private readonly runtime: Runtime,
    private readonly revocation: SessionRevocation,
    private readonly db: DatabaseService,
  ) {}

  async systemStatus() {
    const supervisor = await this.workers.status();
    return {
      uptimeS: Math.round(process.uptime()),
      version: this.runtime.config.app.version,
      mode: supervisor.mode,
      workers: supervisor.workers,
      pools: { main: this.pool.stats() },
      breaker: this.breaker.snapshot(),
      redis: await this.redisStatus(),
      restartChurn: supervisor.churn,
      policy: supervisor.policy,
      rollout: supervisor.rollout,
      logLevel: this.runtime.logLevel.view(),
    };
  }

  async workerStatus() {
    const s: SupervisorStatus = await this.workers.status();
    return {
      mode: s.mode,
      workers: s.workers,
      emptySlots: s.emptySlots,
      history: s.history,
      policy: s.policy,
      cooldownRemainingS: s.policy.cooldownRemainingS,
      nextAction: s.policy.nextAction,
      rollout: s.rollout,
    };
  }

  /**
   * Audited before acting and after: the request row is written first (if the database
   * cannot take it, nothing happens), the outcome row once the supervisor has answered.
   */
  async restart(command: RestartCommand): Promise<{ restartId: string; status: string }> {
    const status = await this.workers.status();
    const blocked = status.policy.state === 'blocked';
    const override = blocked && command.acknowledgeOverride;
    const restartId = randomUUID();
    const base = {
      actorId: command.actor.id,
      action: 'worker.restart',
      reason: command.reason,
      correlationId: command.correlationId,
    };
    if (blocked && !command.acknowledgeOverride) {
      await this.audit.append({ ...base, outcome: 'refused: RESTART_BLOCKED', details: { restartId, policy: status.policy } });
      throw new AppException(ErrorCode.RESTART_BLOCKED, `Restarts are blocked by the churn policy: ${status.policy.nextAction}`);
    }
    await this.audit.append({ ...base, outcome: override ? 'requested (override)' : 'requested', details: { restartId, override, policy: status.policy } });
    const result = await this.workers
      .requestRollingRestart({ reason: command.reason, restartId, acknowledgeOverride: command.acknowledgeOverride, requestedBy: command.actor.username })
      .catch(async (error: unknown) => {
        await this.audit.append({ ...base, outcome: 'failed: supervisor unavailable', details: { restartId } });
        throw error;
      });
    const accepted = result.status === 'running' || result.status === 'completed';
    await this.audit.append({
      ...base,
      outcome: accepted ? (result.alreadyRunning ? 'joined running rollout' : 'started') : `${result.status}: ${result.code ?? 'unknown'}`,
      details: { restartId: result.restartId, override: result.override, message: result.message },
    });
    // Refused by the supervisor: blocked by churn, no supervisor at all (WORKERS=1), or shutting
    // down. All are "this restart cannot happen now"; the message says which.
    if (!accepted) throw new AppException(ErrorCode.RESTART_BLOCKED, result.message ?? `Restart ${result.status}: ${result.code ?? 'refused'}`);
    return { restartId: result.restartId, status: 'running' };
  }

  /**
   * A temporary log level for every worker (and the primary), audited like a restart: the
   * request row first (no row, no change), then the outcome.
   */
  async setLogLevel(command: LogLevelCommand): Promise<LogLevelOverride> {
    const base = { actorId: command.actor.id, action: 'log.level', reason: command.reason, correlationId: command.correlationId };
    const details = { level: command.level, minutes: command.minutes, configured: this.runtime.config.app.logLevel };
    await this.audit.append({ ...base, outcome: 'requested', details });
    let result: LogLevelOverride;
    try {
      result = await this.runtime.channel.requestSetLogLevel({
        level: command.level,
        durationMs: command.minutes * 60_000,
        reason: command.reason,
        requestedBy: command.actor.username,
      });
    } catch (error) {
      await this.audit.append({ ...base, outcome: 'failed: supervisor unavailable', details }).catch(() => undefined);
      throw error;
    }
    await this.audit.append({ ...base, outcome: 'applied', details: { ...details, revertsAt: result.revertsAt } });
    return result;
  }

  /**
   * Ends every session of a user (SessionRevocation), audited like a restart: the request row
   * first (no row, no action), then the outcome, failures included.
   */
  async signOut(command: SignOutCommand): Promise<{ userId: number; revokedSessions: number }> {
    const base = { actorId: command.actor.id, action: 'user.sign-out', reason: command.reason, correlationId: command.correlationId };
    const [target] = (await this.db.run((m) => m.query('/* admin.user_by_id */ SELECT id, username FROM users WHERE id = $1', [command.userId]))) as {
      id: number;
      username: string;
    }[];
    if (target === undefined) {
      await this.audit.append({ ...base, outcome: 'refused: NOT_FOUND', details: { userId: command.userId } });
      throw new NotFoundException(`No user with id ${command.userId}`);
    }
    const details = { userId: target.id, username: target.username };
    await this.audit.append({ ...base, outcome: 'requested', details });
    let revokedSessions: number;
    try {
      revokedSessions = await this.revocation.revokeUser(target.id, 'signed_out');
    } catch (error) {
      const code = error instanceof AppException ? error.code : 'INTERNAL';
      await this.audit.append({ ...base, outcome: `failed: ${code}`, details }).catch(() => undefined);
      throw error;
    }
    await this.audit.append({ ...base, outcome: 'signed out', details: { ...details, revokedSessions } });
    return { userId: target.id, revokedSessions };
  }

  private async redisStatus(): Promise<{ mode: 'redis' | 'memory'; status: string; latencyMs: number | null }> {
    if (!this.redis) return { mode: 'memory', status: 'single-instance', latencyMs: null };
    const started = performance.now();
    try {
      await this.redis.ping();
      return { mode: 'redis', status: 'up', latencyMs: Math.round((performance.now() - started) * 10) / 10 };
    } catch {
      return { mode: 'redis', status: 'down', latencyMs: null };
    }
  }
}
