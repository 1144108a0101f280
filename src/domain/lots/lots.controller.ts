import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import { type AuthenticatedUser, CurrentUser, RequireRole } from '../../auth/auth.decorators.js';
import { ApiErrorResponses } from '../../core/openapi.js';
import { Idempotent, IdempotencyKeyScope } from '../../idempotency/idempotency.interceptor.js';
import type { IdempotencyScope } from '../../idempotency/idempotency.service.js';
import { PositiveIntPipe } from '../../core/positive-int.pipe.js';
import { CreateNoteBody, ListLotsQuery, LotDetailDto, LotPageDto, NoteDto } from './lots.dto.js';
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
  @ApiParam({ name: 'id', type: Number, description: 'Lot id' })
  @ApiOkResponse({ type: LotDetailDto })
  get(@Param('id', PositiveIntPipe) id: number): Promise<LotDetailDto> {
    return this.lots.get(id);
  }

  @Post(':id/notes')
  @HttpCode(201)
  @RequireRole('operator')
  @ApiCreatedResponse({ type: NoteDto })
  @ApiParam({ name: 'id', type: Number, description: 'Lot id' })
  @Idempotent()
  addNote(
    @Param('id', PositiveIntPipe) id: number,
    @Body() body: CreateNoteBody,
    @CurrentUser() user: AuthenticatedUser,
    @IdempotencyKeyScope() idempotency: IdempotencyScope | null,
  ): Promise<NoteDto> {
    return this.lots.addNote(id, user.id, body.text, idempotency);
  }
}
