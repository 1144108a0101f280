import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { RampartConfig } from '../config/rampart-config.js';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '../observability/observability.tokens.js';
import { RUNTIME, type Runtime } from '../runtime.js';
import { EventLoopLagMonitor } from '../core/event-loop-lag.monitor.js';
import { AdmissionController, eventLoopBusy, processCpuShare } from './admission/admission-controller.js';
import { BreakerService, MAIN_DB_BREAKER } from './breaker.service.js';
import { ShutdownRegistry } from './shutdown-registry.service.js';

/** Admission control reads the lag over this recent part of the liveness window. */
const ADMISSION_LAG_WINDOW_MS = 300;

@Global()
@Module({
  providers: [
    { provide: ShutdownRegistry, inject: [RUNTIME], useFactory: (runtime: Runtime) => runtime.registry },
    {
      provide: MAIN_DB_BREAKER,
      inject: [ConfigService, ShutdownRegistry, ROOT_LOGGER],
      useFactory: (config: ConfigService<RampartConfig, true>, registry: ShutdownRegistry, logger: Logger) => {
        const options = config.get('resilience', { infer: true }).breaker;
        const breaker = new BreakerService({ name: 'main-db', ...options });
        // Listeners run after the state change is complete and off the request path.
        breaker.onStateChange((change) => {
          const level = change.to === 'open' ? 'error' : change.to === 'closed' ? 'info' : 'warn';
          logger[level]({ breaker: 'main-db', ...change }, `main database circuit ${change.from} -> ${change.to}`);
        });
        registry.register({ name: 'main-db-breaker', phase: 'main-db', close: () => breaker.shutdown() });
        return breaker;
      },
    },
    {
      // One sampler per worker: liveness reads it, and admission control sheds on it first.
      provide: EventLoopLagMonitor,
      inject: [ShutdownRegistry],
      useFactory: (registry: ShutdownRegistry) => {
        const monitor = new EventLoopLagMonitor();
        monitor.start();
        registry.register({ name: 'event-loop-monitor', phase: 'jobs', close: () => monitor.stop() });
        return monitor;
      },
    },
    {
      provide: AdmissionController,
      inject: [ConfigService, EventLoopLagMonitor, ShutdownRegistry, ROOT_LOGGER],
      useFactory: (config: ConfigService<RampartConfig, true>, monitor: EventLoopLagMonitor, registry: ShutdownRegistry, logger: Logger) => {
        const controller = new AdmissionController(
          config.get('admission', { infer: true }),
          { lagMs: () => monitor.current(ADMISSION_LAG_WINDOW_MS).lagMs, cpuShare: processCpuShare(), loopBusy: eventLoopBusy() },
          logger.child({ component: 'admission' }),
        );
        controller.start();
        registry.register({ name: 'admission-control', phase: 'jobs', close: () => controller.stop() });
        return controller;
      },
    },
  ],
  exports: [ShutdownRegistry, MAIN_DB_BREAKER, EventLoopLagMonitor, AdmissionController],
})
export class ResilienceModule {}
