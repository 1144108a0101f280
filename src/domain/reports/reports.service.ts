import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { RampartConfig } from '../../config/rampart-config.js';
import { AppException, DbInfrastructureException, ErrorCode } from '../../core/errors/index.js';
import { DatabaseService } from '../../database/database.service.js';
import type { EquipmentStatusListDto, WipSummaryDto } from './reports.dto.js';
import { WipSummaryStore } from './wip-summary.store.js';

interface WipRow {
  station_id: number;
  code: string;
  name: string;
  status: string | null;
  count: number;
}

@Injectable()
export class ReportsService {
  private readonly freshForMs: number;

  constructor(
    private readonly db: DatabaseService,
    private readonly store: WipSummaryStore,
    @Inject(ConfigService) config: ConfigService<RampartConfig, true>,
  ) {
    // Two refresh periods: one missed refresh is normal jitter, two means the updater is not keeping up.
    this.freshForMs = 2 * config.get('resilience', { infer: true }).reportCacheRefreshMs;
  }

  /** Reads the summary from PostgreSQL; the cache updater calls this on its schedule. */
  async computeWipSummary(): Promise<WipSummaryDto> {
    const rows = (await this.db.run((m) =>
      // Counted per (station, status) first and joined to the few stations after: joining every
      // lot to its station before grouping doubled the time at 1M lots (issue 17). Still a scan of
      // every lot; this runs on the updater's schedule, never per request.
      m.query(`/* reports.wip */
        SELECT s.id AS station_id, s.code, s.name, c.status, coalesce(c.count, 0)::int AS count
        FROM stations s
        LEFT JOIN (SELECT station_id, status, count(*)::int AS count FROM lots GROUP BY station_id, status) c ON c.station_id = s.id
        ORDER BY s.code`),
    )) as WipRow[];
    const stations = new Map<number, WipSummaryDto['stations'][number]>();
    for (const row of rows) {
      let station = stations.get(row.station_id);
      if (!station) {
        station = { stationId: row.station_id, code: row.code, name: row.name, counts: { queued: 0, running: 0, hold: 0, done: 0 }, total: 0 };
        stations.set(row.station_id, station);
      }
      if (row.status) {
        station.counts[row.status] = row.count;
        station.total += row.count;
      }
    }
    return { asOf: new Date().toISOString(), stations: [...stations.values()] };
  }

  async refreshWipSummary(): Promise<WipSummaryDto> {
    const summary = await this.computeWipSummary();
    await this.store.set(summary);
    return summary;
  }

  /**
   * Fresh cache when there is one; otherwise read now. While the database is degraded the
   * last good value is served, marked stale, instead of an error.
   */
  async wipSummary(): Promise<WipSummaryDto> {
    const cached = await this.store.get(this.freshForMs);
    if (cached && Date.now() - Date.parse(cached.asOf) < this.freshForMs) return cached;
    try {
      return await this.refreshWipSummary();
    } catch (error) {
      const degraded = error instanceof DbInfrastructureException || (error instanceof AppException && error.code === ErrorCode.DB_CIRCUIT_OPEN);
      if (cached && degraded) return { ...cached, stale: true };
      throw error;
    }
  }

  async equipmentStatus(): Promise<EquipmentStatusListDto> {
    const rows = (await this.db.run((m) =>
      m.query(`/* reports.equipment */
        SELECT e.id, e.code, e.station_id, s.code AS station_code, e.state, e.state_since,
               extract(epoch FROM now() - e.state_since)::bigint AS seconds
        FROM equipment e JOIN stations s ON s.id = e.station_id
        ORDER BY s.code, e.code`),
    )) as { id: number; code: string; station_id: number; station_code: string; state: string; state_since: Date; seconds: string }[];
    return {
      asOf: new Date().toISOString(),
      items: rows.map((r) => ({
        id: r.id,
        code: r.code,
        stationId: r.station_id,
        stationCode: r.station_code,
        state: r.state,
        stateSince: r.state_since.toISOString(),
        secondsInState: Number(r.seconds),
      })),
    };
  }
}
