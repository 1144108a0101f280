import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';

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

export class RestartFormBody extends RestartBody {
  @IsOptional()
  @IsString()
  _csrf?: string;
}

export class AuditQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;

  @ApiPropertyOptional({ description: 'Entry id: return entries older than it' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  before?: number;
}

export class RestartAcceptedDto {
  @ApiProperty() restartId!: string;
  @ApiProperty({ enum: ['running'] }) status!: string;
}
