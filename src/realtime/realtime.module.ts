import { Module } from '@nestjs/common';
import { SessionModule } from '../security/session/session.module.js';
import { EventsController } from './events.controller.js';
import { RealtimeService } from './realtime.service.js';

@Module({
  imports: [SessionModule],
  controllers: [EventsController],
  providers: [RealtimeService],
  exports: [RealtimeService],
})
export class RealtimeModule {}
