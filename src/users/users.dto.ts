import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsOptional, IsString, Length, Matches } from 'class-validator';
import { IsCanonicalInt } from '../core/canonical-int.js';
import { PageLimitQuery } from '../core/page-limit.query.js';
import { ROLES, type Role } from '../database/entities/index.js';
import { IDEMPOTENCY_KEY_PATTERN } from '../idempotency/fingerprint.js';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from './password-policy.js';
import { normaliseUsername, USERNAME_PATTERN } from './user-accounts.js';

const REASON = { minLength: 3, maxLength: 500, description: 'Why; recorded in the audit log' } as const;

class ReasonBody {
  @ApiProperty(REASON)
  @IsString()
  @Length(3, 500)
  reason!: string;
}

export class CreateUserBody extends ReasonBody {
  @ApiProperty({
    description: 'Letters, digits and . _ @ -; 2 to 64 characters. Stored lower case (as sign-in folds it): `Bob` is created as `bob`, and is taken when `bob` exists',
  })
  // The sign-in's folding first, so the rule and the uniqueness apply to the name as stored.
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? normaliseUsername(value) : value))
  @IsString()
  @Matches(USERNAME_PATTERN, { message: `username must match ${USERNAME_PATTERN.source} (after lower-casing)` })
  username!: string;

  @ApiProperty({ enum: ROLES })
  @IsIn(ROLES)
  role!: Role;
}

export class SetRoleBody extends ReasonBody {
  @ApiProperty({ enum: ROLES })
  @IsIn(ROLES)
  role!: Role;
}

export class UserReasonBody extends ReasonBody {}

export class UsersQuery extends PageLimitQuery {
  @ApiPropertyOptional({ description: 'User id: return users with a greater id (the last id of the previous page)' })
  @IsOptional()
  @IsCanonicalInt(1)
  after?: number;
}

export class ChangePasswordBody {
  @ApiProperty({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH, format: 'password' })
  @IsString()
  @Length(1, PASSWORD_MAX_LENGTH)
  currentPassword!: string;

  @ApiProperty({
    minLength: PASSWORD_MIN_LENGTH,
    maxLength: PASSWORD_MAX_LENGTH,
    format: 'password',
    description: 'At least 12 characters; not the username, not the current password, not the previous one',
  })
  // Length is the policy's to judge (in characters, with its own message); this only bounds the body.
  @IsString()
  @Length(1, PASSWORD_MAX_LENGTH * 4)
  newPassword!: string;
}

/**
 * The console's forms: the same bodies plus the CSRF field the middleware has already checked
 * and, on the forms that answer a one-time password, the key IdempotentForm has already read.
 */
export class CreateUserFormBody extends CreateUserBody {
  @IsOptional() @IsString() _csrf?: string;
  @IsOptional() @Matches(IDEMPOTENCY_KEY_PATTERN) idempotencyKey?: string;
}
export class SetRoleFormBody extends SetRoleBody {
  @IsOptional() @IsString() _csrf?: string;
}
export class UserReasonFormBody extends ReasonBody {
  @IsOptional() @IsString() _csrf?: string;
}
export class ResetPasswordFormBody extends UserReasonFormBody {
  @IsOptional() @Matches(IDEMPOTENCY_KEY_PATTERN) idempotencyKey?: string;
}
export class ChangePasswordFormBody {
  @IsString() @Length(0, PASSWORD_MAX_LENGTH * 4) currentPassword!: string;
  @IsString() @Length(0, PASSWORD_MAX_LENGTH * 4) newPassword!: string;
  @IsString() @Length(0, PASSWORD_MAX_LENGTH * 4) confirmPassword!: string;
  /** For password managers only (the page's hidden username field); the session says who. */
  @IsOptional() @IsString() @Length(0, 256) username?: string;
  @IsOptional() @IsString() _csrf?: string;
}


export class UserSummaryDto {
  @ApiProperty() id!: number;
  @ApiProperty() username!: string;
  @ApiProperty({ enum: ['local', 'ldap'], description: 'ldap: a directory user (read-only here except disable, enable and sign-out)' }) source!: string;
  @ApiProperty({ enum: ROLES }) role!: string;
  @ApiProperty() disabled!: boolean;
  @ApiProperty({ description: 'Holds a one-time password not yet changed' }) mustChangePassword!: boolean;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) lastLoginAt!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class CreatedUserDto {
  @ApiProperty({ type: UserSummaryDto }) user!: UserSummaryDto;
  @ApiProperty({
    type: String,
    nullable: true,
    description:
      'The one-time password, shown only in this answer (and its Idempotency-Key replays within 24 h); the user must change it at first ' +
      'sign-in. null only for a replay after SESSION_SECRET changed: reset the password then.',
  })
  oneTimePassword!: string | null;
}

export class ChangedUserDto {
  @ApiProperty({ type: UserSummaryDto }) user!: UserSummaryDto;
  @ApiProperty({ description: 'Sessions that were live and are now ended (0 when the change did not call for it)' }) revokedSessions!: number;
}

export class PasswordResetDto extends ChangedUserDto {
  @ApiProperty({ description: 'The new one-time password, shown only in this answer; the user must change it at next sign-in' })
  oneTimePassword!: string;
}
