import { Injectable } from '@nestjs/common';

export type RestartPolicyState = 'allowed' | 'cooling_down' | 'blocked';

export interface RestartPolicyView {
  state: RestartPolicyState;
  cooldownRemainingS: number;
  nextAction: string;
  restartsInWindow?: number;
  /** Set only by a placeholder, so the payload can say its policy is not real yet. */
  source?: 'stub';
}

/** Where the health payload's restart `policy` block comes from (the cluster supervisor, once it lands). */
export abstract class RestartPolicySource {
  abstract current(): RestartPolicyView;
}

/** Placeholder until the supervisor is integrated: nothing restarts workers yet, so nothing is limited. */
@Injectable()
export class StaticRestartPolicySource extends RestartPolicySource {
  current(): RestartPolicyView {
    return {
      state: 'allowed',
      cooldownRemainingS: 0,
      nextAction: 'none: restart policy is a stub until the cluster supervisor is integrated',
      source: 'stub',
    };
  }
}
