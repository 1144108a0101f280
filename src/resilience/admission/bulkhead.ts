import { OverloadedException } from '../../core/errors/index.js';

export interface BulkheadOptions {
  /** Operations running at once; 0 means no cap (the bulkhead only counts). */
  concurrency: number;
  /** Operations allowed to wait for a slot; more are refused at once. */
  queueSize: number;
  /** A waiting operation is refused after this long rather than run late. */
  queueTimeoutMs: number;
  retryAfterMs?: number;
}

export interface BulkheadSnapshot {
  name: string;
  concurrency: number;
  active: number;
  queued: number;
  refused: number;
}

interface Waiter {
  start: () => void;
  timer: NodeJS.Timeout;
}

/**
 * A concurrency cap around one kind of expensive work (argon2 on the libuv pool), so a storm
 * of it cannot take the CPU and the admission limit from everything else. Excess work waits
 * briefly in a bounded queue, then is refused with OVERLOADED.
 */
export class Bulkhead {
  private active = 0;
  private refused = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    readonly name: string,
    private readonly options: BulkheadOptions,
  ) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    // A finishing operation hands its slot straight to the next waiter (the count stays), so
    // an arrival in between cannot slip past the cap.
    if (this.options.concurrency > 0 && this.active >= this.options.concurrency) await this.slot();
    else this.active += 1;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next.start();
      else this.active -= 1;
    }
  }

  /** Every slot busy and the queue full: the next operation would be refused. */
  full(): boolean {
    return this.options.concurrency > 0 && this.active >= this.options.concurrency && this.waiting.length >= this.options.queueSize;
  }

  /** A refusal made on this bulkhead's behalf before its work was reached (admission control). */
  countRefusal(): void {
    this.refused += 1;
  }

  snapshot(): BulkheadSnapshot {
    return { name: this.name, concurrency: this.options.concurrency, active: this.active, queued: this.waiting.length, refused: this.refused };
  }

  private slot(): Promise<void> {
    if (this.waiting.length >= this.options.queueSize) return Promise.reject(this.refuse());
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        start: () => {
          clearTimeout(waiter.timer);
          resolve();
        },
        timer: setTimeout(() => {
          const index = this.waiting.indexOf(waiter);
          if (index !== -1) this.waiting.splice(index, 1);
          reject(this.refuse());
        }, this.options.queueTimeoutMs),
      };
      this.waiting.push(waiter);
    });
  }

  private refuse(): OverloadedException {
    this.refused += 1;
    return new OverloadedException(this.options.retryAfterMs ?? 1000, `Too many ${this.name} operations at once; retry shortly`);
  }
}
