import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length, Matches } from 'class-validator';
import { IsCanonicalInt } from '../../core/canonical-int.js';
import { PageLimitQuery } from '../../core/page-limit.query.js';
import { LOT_STATUSES, type LotStatus } from '../../database/entities/index.js';

export class ListLotsQuery extends PageLimitQuery {
  @ApiPropertyOptional({ enum: LOT_STATUSES })
  @IsOptional()
  @IsIn(LOT_STATUSES)
  status?: LotStatus;

  @ApiPropertyOptional({ description: 'Station id' })
  @IsOptional()
  @IsCanonicalInt(1)
  station?: number;

  @ApiPropertyOptional({ description: 'Opaque cursor from the previous page (`nextCursor`)' })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,32}$/, { message: 'cursor is not one this API issued' })
  cursor?: string;
}

export class CreateNoteBody {
  @ApiProperty({ minLength: 1, maxLength: 2000 })
  @IsString()
  @Length(1, 2000)
  text!: string;
}

export class LotDto {
  @ApiProperty() id!: number;
  @ApiProperty() code!: string;
  @ApiProperty() product!: string;
  @ApiProperty() stationId!: number;
  @ApiProperty({ enum: LOT_STATUSES }) status!: LotStatus;
  @ApiProperty() priority!: number;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}

export class LotPageDto {
  @ApiProperty({ type: [LotDto] }) items!: LotDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}

export class LotEventDto {
  @ApiProperty() id!: number;
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty() kind!: string;
  @ApiProperty() stationId!: number;
  @ApiProperty({ type: 'object', additionalProperties: true }) payload!: Record<string, unknown>;
}

export class NoteDto {
  @ApiProperty() id!: number;
  @ApiProperty() lotId!: number;
  @ApiProperty() authorId!: number;
  @ApiProperty() text!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class LotDetailDto extends LotDto {
  @ApiProperty({ type: [LotEventDto] }) events!: LotEventDto[];
  @ApiProperty({ type: [NoteDto] }) notes!: NoteDto[];
}
