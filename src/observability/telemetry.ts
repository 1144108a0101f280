import {
  LATENCY_BOUNDS_MS,
  RECENT_LOG_LINES,
  TELEMETRY_BUCKET_MS,
  TELEMETRY_BUCKETS,
  type LogLine,
  type LogLineLevel,
  type TelemetryBucket,
  type TelemetryDelta,
} from '../cluster/protocol.js';
import type { TelemetrySource } from '../cluster/worker-channel.js';
import { BoundedRing } from '../core/ring.js';

const BREAKER_LEVEL: Record<string, number> = { closed: 0, half_open: 1, open: 2 };
/** The admission controller's refusal: counted as shed, also kept under its code. */
const SHED_CODE = 'OVERLOADED';

export interface TelemetrySample {
  poolSaturation: number;
  poolWaiting: number;
  breakerState: string;
}

/**
 * This process's console history: 10 s buckets (requests, errors by code, a latency
 * histogram, pool, breaker, shedding, memory) for the last hour, and the last warn/error
 * lines as the logger wrote them (already redacted). In-process only: the primary gathers
 * every worker's copy through the heartbeat (see TelemetryStore), so the console needs no
 * Prometheus. Everything is bounded by BoundedRing.
 */
export class TelemetryRecorder implements TelemetrySource {
  private readonly buckets = new BoundedRing<TelemetryBucket>(TELEMETRY_BUCKETS);
  private readonly logs = new BoundedRing<LogLine>(RECENT_LOG_LINES);
  private seq = 0;
  private sentSeq = 0;

  constructor(private readonly now: () => number = Date.now) {}

  observeRequest(status: number, durationMs: number, errorCode: string | null): void {
    const bucket = this.current();
    bucket.requests += 1;
    let index = LATENCY_BOUNDS_MS.findIndex((bound) => durationMs <= bound);
    if (index === -1) index = LATENCY_BOUNDS_MS.length;
    bucket.latency[index] = (bucket.latency[index] ?? 0) + 1;
    if (status >= 400 || errorCode !== null) {
      const code = errorCode ?? `HTTP_${status}`;
      bucket.errors[code] = (bucket.errors[code] ?? 0) + 1;
      if (code === SHED_CODE) bucket.shed += 1;
    }
  }

  /** Called every few seconds: gauges keep the worst value seen in the bucket. */
  sample(sample: TelemetrySample): void {
    const bucket = this.current();
    bucket.poolSaturation = Math.max(bucket.poolSaturation, sample.poolSaturation);
    bucket.poolWaiting = Math.max(bucket.poolWaiting, sample.poolWaiting);
    bucket.breaker = Math.max(bucket.breaker, BREAKER_LEVEL[sample.breakerState] ?? 0);
    const memory = process.memoryUsage();
    bucket.rssBytes = Math.max(bucket.rssBytes, memory.rss);
    bucket.heapUsedBytes = Math.max(bucket.heapUsedBytes, memory.heapUsed);
  }

  /** A serialized log line (see createRootLogger's onWarnLine); only warn and worse are kept. */
  recordLogLine(serialized: string): void {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(serialized) as Record<string, unknown>;
    } catch {
      return;
    }
    const level = parsed['level'];
    if (level !== 'warn' && level !== 'error' && level !== 'fatal') return;
    const res = parsed['res'] as { statusCode?: unknown } | undefined;
    const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);
    this.seq += 1;
    this.logs.push({
      seq: this.seq,
      at: text(parsed['time']) ?? new Date(this.now()).toISOString(),
      level: level as LogLineLevel,
      msg: String(parsed['msg'] ?? '').slice(0, 500),
      correlationId: text(parsed['correlationId']),
      errorCode: text(parsed['errorCode']),
      route: text(parsed['route']),
      status: typeof res?.statusCode === 'number' ? res.statusCode : null,
    });
  }

  delta(): TelemetryDelta {
    const all = this.buckets.toArray();
    const logs = this.logs.toArray().filter((line) => line.seq > this.sentSeq);
    this.sentSeq = this.seq;
    // The bucket being filled is sent again on every beat; the one before it once more, so
    // its last second is not lost at the boundary.
    return { buckets: all.slice(-2), logs };
  }

  full(): TelemetryDelta {
    return { buckets: this.buckets.toArray(), logs: this.logs.toArray() };
  }

  private current(): TelemetryBucket {
    const t = Math.floor(this.now() / TELEMETRY_BUCKET_MS) * TELEMETRY_BUCKET_MS;
    const last = this.buckets.last();
    if (last !== undefined && last.t >= t) return last;
    const bucket: TelemetryBucket = {
      t,
      requests: 0,
      errors: {},
      latency: new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0),
      poolSaturation: 0,
      poolWaiting: 0,
      breaker: 0,
      shed: 0,
      rssBytes: 0,
      heapUsedBytes: 0,
    };
    this.buckets.push(bucket);
    return bucket;
  }
}

/**
 * Cheap pre-check on the serialized line: pino writes the level first (`{"level":"warn",...`),
 * so only the line's start is looked at, not the whole line three times.
 */
export function isWarnOrWorse(serialized: string): boolean {
  return serialized.startsWith('{"level":"warn"') || serialized.startsWith('{"level":"error"') || serialized.startsWith('{"level":"fatal"');
}
