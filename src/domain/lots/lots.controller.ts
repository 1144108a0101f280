import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { type AuthenticatedUser, CurrentUser, RequireRole } from '../../auth/auth.decorators.js';
import { ApiErrorResponses } from '../../core/openapi.js';
import { CreateNoteBody, ListLotsQuery, LotDetailDto, LotIdParam, LotPageDto, NoteDto } from './lots.dto.js';
import { LotsService } from './lots.service.js';

@ApiTags('lots')
@ApiErrorResponses()
@Controller('api/lots')
export class LotsController {
  constructor(private readonly lots: LotsService) {}

  @Get()
  @ApiOkResponse({ type: LotPageDto })
  list(@Query() query: ListLotsQuery): Promise<LotPageDto> {
    return this.lots.list(query);
  }

  @Get(':id')
  @ApiOkResponse({ type: LotDetailDto })
  get(@Param() params: LotIdParam): Promise<LotDetailDto> {
    return this.lots.get(params.id);
  }

  @Post(':id/notes')
  @HttpCode(201)
  @RequireRole('operator')
  @ApiCreatedResponse({ type: NoteDto })
  addNote(@Param() params: LotIdParam, @Body() body: CreateNoteBody, @CurrentUser() user: AuthenticatedUser): Promise<NoteDto> {
    return this.lots.addNote(params.id, user.id, body.text);
  }
}
