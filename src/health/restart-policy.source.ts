export type RestartPolicyState = 'allowed' | 'cooling_down' | 'blocked';

export interface RestartPolicyView {
  state: RestartPolicyState;
  cooldownRemainingS: number;
  nextAction: string;
  restartsInWindow?: number;
}

/** Where the health payload's restart `policy` block comes from: the cluster supervisor. */
export abstract class RestartPolicySource {
  abstract current(): RestartPolicyView;
}
