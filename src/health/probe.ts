import type { HealthCheckAttempt } from '@nestjs/terminus';
import { HealthProbeError } from './health-database.js';

/**
 * Terminus puts a failed attempt's `error.message` into the payload verbatim; anything that
 * is not already a HealthProbeError is replaced by fixed text before it can get there.
 */
export async function safeProbe(fallbackMessage: string, probe: () => Promise<void>): Promise<void> {
  try {
    await probe();
  } catch (error) {
    throw error instanceof HealthProbeError ? error : new HealthProbeError(fallbackMessage);
  }
}

/**
 * Terminus' memo (v12 `cacheFor`): shared per indicator key across endpoints, concurrent
 * misses share the run in flight, failures are kept like successes. 0 turns it off.
 */
export function memoised<Key extends string>(attempt: HealthCheckAttempt<Key>, cacheMs: number): HealthCheckAttempt<Key> {
  return cacheMs > 0 ? attempt.cacheFor(cacheMs) : attempt;
}
