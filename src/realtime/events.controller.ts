import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiErrorResponses } from '../core/openapi.js';
import { RealtimeService } from './realtime.service.js';

@ApiTags('events')
@ApiErrorResponses()
@Controller('api/events')
export class EventsController {
  constructor(private readonly realtime: RealtimeService) {}

  /** Long-lived stream: the response is written by the service; errors before it starts still go through the filter. */
  @Get('stream')
  @ApiProduces('text/event-stream')
  @ApiOkResponse({ description: 'Server-Sent Events: `event: change` with JSON data; `event: shutdown` with a retry hint at the end' })
  stream(@Res() res: Response): void {
    this.realtime.subscribe(res);
  }
}
