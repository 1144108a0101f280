import { Controller, Get, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { type AuthenticatedUser, CurrentUser } from '../auth/auth.decorators.js';
import { UnauthenticatedException } from '../core/errors/index.js';
import { ApiErrorResponses } from '../core/openapi.js';
import { sessionStateOf } from '../security/session/request-session.js';
import { RealtimeService } from './realtime.service.js';

@ApiTags('events')
@ApiErrorResponses()
@Controller('api/events')
export class EventsController {
  constructor(private readonly realtime: RealtimeService) {}

  /** Long-lived stream: the response is written by the service; errors before it starts still go through the filter. */
  @Get('stream')
  @ApiProduces('text/event-stream')
  @ApiOkResponse({
    description:
      'Server-Sent Events: `event: change` with JSON data; `event: shutdown` with a retry hint when the server stops; ' +
      '`event: end` with `{"reason":"logged_out"|"revoked"|"expired"|"disabled"}` when the session ends (the stream closes; ' +
      'reconnecting is 401). At most SSE_MAX_PER_USER streams per user: beyond it 429 RATE_LIMITED with Retry-After.',
  })
  async stream(@Req() req: Request, @Res() res: Response, @CurrentUser() user: AuthenticatedUser | undefined): Promise<void> {
    const sessionId = sessionStateOf(req)?.id ?? null;
    // The guard has seen a user, so a session backs this request; checked, not assumed.
    if (user === undefined || sessionId === null) throw new UnauthenticatedException();
    await this.realtime.subscribe(res, { sessionId, user });
  }
}
