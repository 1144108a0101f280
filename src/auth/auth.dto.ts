import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length, MaxLength } from 'class-validator';
import { ROLES, type Role } from '../database/entities/index.js';

export class LoginBody {
  @ApiProperty({ minLength: 1, maxLength: 256 })
  @IsString()
  @Length(1, 256)
  username!: string;

  @ApiProperty({ minLength: 1, maxLength: 1024, format: 'password' })
  @IsString()
  @Length(1, 1024)
  password!: string;
}

/** The HTML form: empty fields are a failed login shown on the page, not a 400. */
export class LoginFormBody {
  @IsString()
  @MaxLength(256)
  username!: string;

  @IsString()
  @MaxLength(1024)
  password!: string;

  /** Checked by the CSRF middleware before the handler runs; listed so validation accepts it. */
  @IsOptional()
  @IsString()
  _csrf?: string;
}

export class UserDto {
  @ApiProperty() id!: number;
  @ApiProperty() username!: string;
  @ApiProperty({ enum: ROLES }) role!: Role;
}

export class CurrentUserDto {
  @ApiProperty({ type: UserDto }) user!: UserDto;
  @ApiPropertyOptional({
    description: 'Present (true) when the session signed in with a one-time password: only POST /api/auth/password, /me, logout and the CSRF token work until it is changed',
  })
  mustChangePassword?: boolean;
}

export class CsrfTokenDto {
  @ApiProperty({ description: 'Send as X-CSRF-Token (or form field _csrf) on every POST, PUT, PATCH and DELETE' })
  token!: string;
}

