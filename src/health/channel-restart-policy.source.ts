import type { WorkerChannel } from '../cluster/worker-channel.js';
import { RestartPolicySource, type RestartPolicyView } from './restart-policy.source.js';

const REFRESH_MS = 1000;

/**
 * The churn policy as the supervisor sees it. Asking the primary is an IPC round trip, so
 * the view is refreshed in the background once a second and health reads the last one: a
 * probe never waits on the supervisor, and a supervisor that stops answering shows as stale.
 */
export class ChannelRestartPolicySource extends RestartPolicySource {
  private view: RestartPolicyView = { state: 'allowed', cooldownRemainingS: 0, nextAction: 'waiting for the first supervisor status' };
  private timer: NodeJS.Timeout | null = null;
  private lastOkAt = 0;

  constructor(private readonly channel: WorkerChannel) {
    super();
  }

  start(): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  current(): RestartPolicyView {
    if (this.lastOkAt !== 0 && Date.now() - this.lastOkAt > 5 * REFRESH_MS) {
      return { ...this.view, nextAction: `supervisor status is ${Math.round((Date.now() - this.lastOkAt) / 1000)} s old; ${this.view.nextAction}` };
    }
    return this.view;
  }

  private async refresh(): Promise<void> {
    try {
      const { policy, emptySlots } = await this.channel.requestStatus();
      this.view = {
        state: policy.state,
        cooldownRemainingS: policy.cooldownRemainingS,
        nextAction: policy.nextAction,
        restartsInWindow: policy.restartsInWindow,
        // Older primaries (mid rolling upgrade) do not send it.
        emptySlots: emptySlots ?? [],
      };
      this.lastOkAt = Date.now();
    } catch {
      // Kept as it was; current() says how old it is.
    }
  }
}
