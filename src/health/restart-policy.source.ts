import type { EmptySlotView } from '../cluster/protocol.js';

export type RestartPolicyState = 'allowed' | 'cooling_down' | 'blocked';

export interface RestartPolicyView {
  state: RestartPolicyState;
  cooldownRemainingS: number;
  nextAction: string;
  restartsInWindow?: number;
  /** Cluster mode: worker slots with no worker, why (`blocked`, `backoff`, `cooldown`) and when refilled. */
  emptySlots?: EmptySlotView[];
}

/** Where the health payload's restart `policy` block comes from: the cluster supervisor. */
export abstract class RestartPolicySource {
  abstract current(): RestartPolicyView;
}
