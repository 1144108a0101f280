import { Inject, Injectable } from '@nestjs/common';
import type { TelemetryView } from '../cluster/protocol.js';
import { HealthCheckFailedException } from '../health/health-check-failed.exception.js';
import { HealthService } from '../health/health.service.js';
import { RUNTIME, type Runtime } from '../runtime.js';
import { aggregate, type DeepHealth, recentLines, statusRows } from './console/incident.js';
import type { IncidentModel } from './console/incident-view.js';

export const CONSOLE_WINDOWS_MIN = [15, 60] as const;
const RECENT_LINES_SHOWN = 50;

/** What the console's incident view shows: `/health/deep` itself, and every worker's history. */
@Injectable()
export class IncidentService {
  constructor(
    private readonly health: HealthService,
    @Inject(RUNTIME) private readonly runtime: Runtime,
  ) {}

  async model(minutes: number): Promise<IncidentModel> {
    const [health, telemetry] = await Promise.all([
      // The very answer /health/deep gives, 503 included: the strip cannot disagree with it.
      this.health.deep().catch((error: unknown) => {
        if (error instanceof HealthCheckFailedException) return error.payload;
        throw error;
      }),
      this.runtime.channel.requestTelemetry(minutes).then(
        (view): { view: TelemetryView; error: null } => ({ view, error: null }),
        (error: unknown) => ({ view: null, error: error instanceof Error ? error.message : String(error) }),
      ),
    ]);
    const deep = health as unknown as DeepHealth;
    return {
      generatedAt: new Date().toISOString(),
      minutes,
      overall: deep.status,
      rows: statusRows(deep),
      history: telemetry.view ? aggregate(telemetry.view, minutes, Date.now()) : null,
      historyError: telemetry.error,
      lines: telemetry.view ? recentLines(telemetry.view, RECENT_LINES_SHOWN) : [],
    };
  }
}

export function consoleWindow(raw: string | undefined): number {
  const minutes = Number(raw);
  return (CONSOLE_WINDOWS_MIN as readonly number[]).includes(minutes) ? minutes : CONSOLE_WINDOWS_MIN[0];
}
