/**
 * What a stop signal (SIGTERM, SIGINT) means, one rule for the primary, a cluster worker and a
 * single process: the first starts a graceful stop; a later one forces exit.
 *
 * One operator action often delivers the same signal more than once within milliseconds: Ctrl-C
 * on `npm start` reaches the app from the terminal and again from npm, which forwards it;
 * systemd's `KillMode=control-group` signals every process of the group. Those copies are one
 * request, not an operator insisting, so a signal within `repeatWindowMs` of the first is a
 * repeat and ignored. (In a cluster worker the primary's IPC stop is not a signal at all and
 * never counts here.)
 *
 * Builtins only: main.ts loads this before the application, to hold signals during startup.
 */

export const SIGNAL_REPEAT_WINDOW_MS = 1000;

export type StopSignalVerdict = 'stop' | 'repeat' | 'force';

export class StopSignalGate {
  private firstAt: number | null = null;

  constructor(
    private readonly now: () => number = Date.now,
    readonly repeatWindowMs: number = SIGNAL_REPEAT_WINDOW_MS,
  ) {}

  /** True once a first stop signal has arrived. */
  get signalled(): boolean {
    return this.firstAt !== null;
  }

  classify(): StopSignalVerdict {
    const at = this.now();
    if (this.firstAt === null) {
      this.firstAt = at;
      return 'stop';
    }
    return at - this.firstAt < this.repeatWindowMs ? 'repeat' : 'force';
  }
}
