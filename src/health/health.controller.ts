import { Controller, Get, UseFilters } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck } from '@nestjs/terminus';
import { Public } from '../auth/auth.decorators.js';
import { HealthCheckFailedFilter } from './health-check-failed.filter.js';
import { type HealthPayload, HealthService } from './health.service.js';

/**
 * Kubernetes probes and monitors. Outside `/api` and `/admin`, so no session is loaded and no
 * account limit applies; public, and opted into no per-IP limit: a probe that needed a
 * session or could be throttled would fail exactly under load.
 */
@ApiTags('health')
@Public()
@UseFilters(HealthCheckFailedFilter)
@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Get('live')
  @HealthCheck()
  live(): Promise<HealthPayload> {
    return this.health.live();
  }

  @Get('ready')
  @HealthCheck()
  ready(): Promise<HealthPayload> {
    return this.health.ready();
  }

  @Get()
  @HealthCheck()
  summary(): Promise<HealthPayload> {
    return this.health.summary();
  }

  @Get('deep')
  @HealthCheck()
  deep(): Promise<HealthPayload> {
    return this.health.deep();
  }
}
