import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PageLimitQuery } from '../core/page-limit.query.js';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { LOG_LEVEL_MAX_MINUTES, RUNTIME_LOG_LEVELS } from '../cluster/protocol.js';
import { IsCanonicalInt } from '../core/canonical-int.js';

export class RestartBody {
  @ApiProperty({ minLength: 3, maxLength: 500, description: 'Why; recorded in the audit log' })
  @IsString()
  @Length(3, 500)
  reason!: string;

  @ApiPropertyOptional({ description: 'Required (true) to restart while the churn policy is blocked' })
  @IsOptional()
  // HTML forms send checkboxes as "on"/"true"; JSON sends booleans.
  @Transform(({ value }) => (value === 'on' || value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean()
  acknowledgeOverride?: boolean;
}

export class LogLevelBody {
  @ApiProperty({ enum: RUNTIME_LOG_LEVELS, description: "One of pino's levels (not `silent`)" })
  @IsIn(RUNTIME_LOG_LEVELS)
  level!: string;

  @ApiProperty({ minimum: 1, maximum: LOG_LEVEL_MAX_MINUTES, description: 'Every process reverts to LOG_LEVEL by itself after this many minutes' })
  @IsInt()
  @Min(1)
  @Max(LOG_LEVEL_MAX_MINUTES)
  minutes!: number;

  @ApiProperty({ minLength: 3, maxLength: 500, description: 'Why; recorded in the audit log' })
  @IsString()
  @Length(3, 500)
  reason!: string;
}

export class LogLevelOverrideDto {
  @ApiProperty({ enum: RUNTIME_LOG_LEVELS }) level!: string;
  @ApiProperty({ format: 'date-time', description: 'When every process reverts to LOG_LEVEL' }) revertsAt!: string;
  @ApiProperty() reason!: string;
  @ApiProperty() setBy!: string;
}

export class LogLevelViewDto {
  @ApiProperty({ description: 'The level the answering worker logs at now' }) level!: string;
  @ApiProperty({ description: 'LOG_LEVEL: what it reverts to' }) configured!: string;
  @ApiProperty({ type: LogLevelOverrideDto, nullable: true, description: 'The runtime level in force, or null' }) override!: LogLevelOverrideDto | null;
}

export class SignOutBody {
  @ApiProperty({ minLength: 3, maxLength: 500, description: 'Why; recorded in the audit log' })
  @IsString()
  @Length(3, 500)
  reason!: string;
}

export class SignOutResultDto {
  @ApiProperty() userId!: number;
  @ApiProperty({ description: 'Sessions that were live and are now ended (0 when the user had none)' }) revokedSessions!: number;
}

export class RestartFormBody extends RestartBody {
  @IsOptional()
  @IsString()
  _csrf?: string;
}

/** The console's sign-out form: only its CSRF field (checked by the CSRF middleware). */
export class LogoutFormBody {
  @IsOptional()
  @IsString()
  _csrf?: string;
}

export class AuditQuery extends PageLimitQuery {
  @ApiPropertyOptional({ description: 'Entry id: return entries older than it' })
  @IsOptional()
  @IsCanonicalInt(1)
  before?: number;
}

export class RestartAcceptedDto {
  @ApiProperty() restartId!: string;
  @ApiProperty({ enum: ['running'] }) status!: string;
}

// Response shapes, for the OpenAPI document the frontend generates its types from. They mirror
// the supervisor's status types in src/cluster/protocol.ts.

export class PolicyDto {
  @ApiProperty({ enum: ['allowed', 'cooling_down', 'blocked'] }) state!: string;
  @ApiProperty() cooldownRemainingS!: number;
  @ApiProperty({ description: 'Crash and watchdog restarts in the window (the ones the threshold applies to)' }) restartsInWindow!: number;
  @ApiProperty({ description: 'Rolling restarts in the window: recorded, never counted toward churn' }) plannedInWindow!: number;
  @ApiProperty() windowS!: number;
  @ApiProperty() threshold!: number;
  @ApiProperty() exceeded!: boolean;
  @ApiProperty() nextAction!: string;
}

export class WorkerExitDto {
  @ApiProperty({ type: Number, nullable: true, description: 'Exit code, or null when a signal ended it' }) code!: number | null;
  @ApiProperty({ type: String, nullable: true, description: 'Signal that ended it, or null' }) signal!: string | null;
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty({ description: 'A crash or watchdog kill, not a planned replacement or a stop' }) unexpected!: boolean;
}

export class WorkerDto {
  @ApiProperty() slot!: number;
  @ApiProperty() id!: number;
  @ApiProperty({ type: Number, nullable: true }) pid!: number | null;
  @ApiProperty({ enum: ['starting', 'ready', 'draining', 'stopped'] }) state!: string;
  @ApiProperty({ format: 'date-time' }) startedAt!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) readyAt!: string | null;
  @ApiProperty() restarts!: number;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) lastHeartbeatAt!: string | null;
  @ApiProperty({ type: Number, nullable: true }) eventLoopLagMs!: number | null;
  @ApiProperty({ enum: ['ok', 'lagging', 'unresponsive', 'n/a'] }) watchdog!: string;
  @ApiProperty({ required: false, description: 'Resident set size (cluster mode: at the last heartbeat), bytes' }) rssBytes?: number;
  @ApiProperty({ required: false, description: 'Cluster mode: requests received since the worker started' }) requests?: number;
  @ApiProperty({ required: false, description: 'WORKER_MAX_REQUESTS: this worker\'s jittered request limit' }) requestLimit?: number;
  @ApiProperty({ required: false, description: 'V8 heap in use (cluster mode: at the last heartbeat), bytes' }) heapUsedBytes?: number;
  @ApiProperty({ type: WorkerExitDto, required: false, description: "How the slot's previous worker ended (an empty slot's row: how this one ended)" })
  lastExit?: WorkerExitDto;
}

export class RestartRecordDto {
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty({ enum: ['rolling', 'watchdog', 'crash', 'recycle'] }) kind!: string;
  @ApiProperty() reason!: string;
  @ApiProperty({ type: String, nullable: true }) restartId!: string | null;
  @ApiProperty({ type: Number, nullable: true }) slot!: number | null;
  @ApiProperty() override!: boolean;
  @ApiProperty({ description: 'Rolling restarts: recorded, not counted toward churn' }) planned!: boolean;
}

export class EmptySlotDto {
  @ApiProperty() slot!: number;
  @ApiProperty({ enum: ['empty'] }) state!: string;
  @ApiProperty({ enum: ['blocked', 'backoff', 'cooldown'] }) reason!: string;
  @ApiProperty({ description: 'Whole seconds until the replacement is forked' }) refillInS!: number;
  @ApiProperty({ format: 'date-time' }) since!: string;
}

export class RolloutDto {
  @ApiProperty() restartId!: string;
  @ApiProperty() reason!: string;
  @ApiProperty({ enum: ['running', 'completed', 'failed', 'rejected', 'aborted'] }) status!: string;
  @ApiProperty({ type: String, nullable: true }) code!: string | null;
  @ApiProperty({ type: String, nullable: true }) message!: string | null;
  @ApiProperty() override!: boolean;
  @ApiProperty() alreadyRunning!: boolean;
  @ApiProperty({ format: 'date-time' }) startedAt!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) finishedAt!: string | null;
  @ApiProperty() total!: number;
  @ApiProperty() replaced!: number;
  @ApiProperty() skipped!: number;
  @ApiProperty({ type: PolicyDto }) policy!: PolicyDto;
}

export class WorkerStatusDto {
  @ApiProperty({ enum: ['cluster', 'single'] }) mode!: string;
  @ApiProperty({ type: [WorkerDto] }) workers!: WorkerDto[];
  @ApiProperty({ type: [EmptySlotDto], description: 'Slots with no worker, why, and when each is refilled' }) emptySlots!: EmptySlotDto[];
  @ApiProperty({ type: [RestartRecordDto], description: 'Restarts within the churn window, oldest first' }) history!: RestartRecordDto[];
  @ApiProperty({ type: PolicyDto }) policy!: PolicyDto;
  @ApiProperty() cooldownRemainingS!: number;
  @ApiProperty() nextAction!: string;
  @ApiProperty({ type: RolloutDto, nullable: true }) rollout!: RolloutDto | null;
}

export class ChurnDto {
  @ApiProperty() windowS!: number;
  @ApiProperty() restarts!: number;
  @ApiProperty() threshold!: number;
  @ApiProperty() exceeded!: boolean;
}

export class SystemStatusDto {
  @ApiProperty() uptimeS!: number;
  @ApiProperty() version!: string;
  @ApiProperty({ enum: ['cluster', 'single'] }) mode!: string;
  @ApiProperty({ type: [WorkerDto] }) workers!: WorkerDto[];
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Pool stats by pool name (main)' }) pools!: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Breaker snapshot: state, failureRate, retryAfterMs, thresholds' })
  breaker!: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'mode (redis|memory), status, latencyMs' }) redis!: Record<string, unknown>;
  @ApiProperty({ type: ChurnDto }) restartChurn!: ChurnDto;
  @ApiProperty({ type: PolicyDto }) policy!: PolicyDto;
  @ApiProperty({ type: RolloutDto, nullable: true }) rollout!: RolloutDto | null;
  @ApiProperty({ type: LogLevelViewDto, description: 'Current log level, and the runtime one with when it reverts' }) logLevel!: LogLevelViewDto;
}

export class AuditEntryDto {
  @ApiProperty() id!: number;
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty({ type: Number, nullable: true }) actorId!: number | null;
  @ApiProperty({ type: String, nullable: true }) actor!: string | null;
  @ApiProperty() action!: string;
  @ApiProperty({ type: String, nullable: true }) reason!: string | null;
  @ApiProperty() outcome!: string;
  @ApiProperty({ type: String, nullable: true }) correlationId!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) details!: Record<string, unknown>;
}
