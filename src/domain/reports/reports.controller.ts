import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrorResponses } from '../../core/openapi.js';
import { EquipmentStatusListDto, WipSummaryDto } from './reports.dto.js';
import { ReportsService } from './reports.service.js';

@ApiTags('reports')
@ApiErrorResponses()
@Controller('api/reports')
export class ReportsController {
  constructor(private readonly reports: ReportsService) {}

  @Get('wip-summary')
  @ApiOkResponse({ type: WipSummaryDto })
  wipSummary(): Promise<WipSummaryDto> {
    return this.reports.wipSummary();
  }

  @Get('equipment-status')
  @ApiOkResponse({ type: EquipmentStatusListDto })
  equipmentStatus(): Promise<EquipmentStatusListDto> {
    return this.reports.equipmentStatus();
  }
}
