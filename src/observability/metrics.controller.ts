import { Controller, Get, Header, Req } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request } from 'express';
import { ForbiddenException } from '../core/errors/index.js';
import { TrustedProxies } from '../security/ip/trusted-proxies.js';
import { metricsAccessAllowed } from '../security/ip/trusted-peer.js';
import { MetricsScrape } from './metrics-scrape.js';

/** Prometheus text, for loopback and TRUSTED_PROXIES peers or a METRICS_TOKEN bearer (CONTRACT "Metrics"). */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly scrape: MetricsScrape,
    private readonly proxies: TrustedProxies,
  ) {}

  @Get()
  @Header('Cache-Control', 'no-store')
  async metrics(@Req() req: Request): Promise<string> {
    const allowed = metricsAccessAllowed(
      { peer: req.socket.remoteAddress, forwardedFor: req.headers['x-forwarded-for'], authorization: req.headers.authorization },
      { trust: this.proxies.trust, token: this.scrape.token },
    );
    if (!allowed) throw new ForbiddenException('Metrics are served to trusted peers or with the metrics token');
    const { contentType, body } = await this.scrape.collect();
    req.res?.setHeader('Content-Type', contentType);
    return body;
  }
}
