import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class StationWipDto {
  @ApiProperty() stationId!: number;
  @ApiProperty() code!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer' }, example: { queued: 3, running: 2, hold: 0, done: 9 } })
  counts!: Record<string, number>;
  @ApiProperty() total!: number;
}

export class WipSummaryDto {
  @ApiProperty({ format: 'date-time', description: 'When the data was read from the database' }) asOf!: string;
  @ApiPropertyOptional({ description: 'True when the database is degraded and this is the last good value' }) stale?: boolean;
  @ApiProperty({ type: [StationWipDto] }) stations!: StationWipDto[];
}

export class EquipmentStatusDto {
  @ApiProperty() id!: number;
  @ApiProperty() code!: string;
  @ApiProperty() stationId!: number;
  @ApiProperty() stationCode!: string;
  @ApiProperty({ enum: ['run', 'idle', 'down', 'maint'] }) state!: string;
  @ApiProperty({ format: 'date-time' }) stateSince!: string;
  @ApiProperty() secondsInState!: number;
}

export class EquipmentStatusListDto {
  @ApiProperty({ format: 'date-time' }) asOf!: string;
  @ApiProperty({ type: [EquipmentStatusDto] }) items!: EquipmentStatusDto[];
}
