import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { RampartConfig } from '../../config/rampart-config.js';
import { TrustedProxies } from './trusted-proxies.js';

@Global()
@Module({
  providers: [
    {
      provide: TrustedProxies,
      inject: [ConfigService],
      useFactory: (config: ConfigService<RampartConfig, true>) => new TrustedProxies(config.get('security', { infer: true }).trustedProxies),
    },
  ],
  exports: [TrustedProxies],
})
export class IpModule {}
