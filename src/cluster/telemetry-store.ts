import { BoundedRing } from '../core/ring.js';
import { RECENT_LOG_LINES, TELEMETRY_BUCKETS, type LogLine, type TelemetryBucket, type TelemetryDelta } from './protocol.js';

/**
 * One worker's console history as the primary keeps it: the heartbeat resends the bucket
 * still being filled, so a bucket with the newest start replaces the last one instead of
 * adding to it; log lines arrive once each (by sequence number).
 */
export class TelemetryStore {
  private readonly buckets = new BoundedRing<TelemetryBucket>(TELEMETRY_BUCKETS);
  private readonly logs = new BoundedRing<LogLine>(RECENT_LOG_LINES);
  private lastSeq = -1;

  absorb(delta: TelemetryDelta): void {
    for (const bucket of delta.buckets) {
      const last = this.buckets.last();
      if (last === undefined || bucket.t > last.t) this.buckets.push(bucket);
      else if (bucket.t === last.t) this.buckets.replaceLast(bucket);
    }
    for (const line of delta.logs) {
      if (line.seq <= this.lastSeq) continue;
      this.lastSeq = line.seq;
      this.logs.push(line);
    }
  }

  view(): { buckets: TelemetryBucket[]; logs: LogLine[] } {
    return { buckets: this.buckets.toArray(), logs: this.logs.toArray() };
  }
}
