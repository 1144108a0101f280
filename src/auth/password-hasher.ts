import argon2 from 'argon2';
import type { Bulkhead } from '../resilience/admission/bulkhead.js';

// OWASP's argon2id baseline (19 MiB, t=2, p=1): a login costs tens of milliseconds, not hundreds.
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/**
 * Hashes and verifies passwords; unknown users are verified against a dummy hash so they cost
 * the same. With a bulkhead, a logon storm takes at most its share of the CPU and the libuv
 * pool; the excess is refused with OVERLOADED instead of starving every other request.
 */
export class PasswordHasher {
  private dummy: Promise<string> | null = null;

  constructor(private readonly bulkhead: Bulkhead | null = null) {}

  hash(password: string): Promise<string> {
    return this.guarded(() => argon2.hash(password, OPTIONS));
  }

  async verify(hash: string | null, password: string): Promise<boolean> {
    const target = hash ?? (await this.dummyHash());
    // Refusal (OVERLOADED) propagates; only a malformed stored hash counts as a mismatch.
    return this.guarded(async () => {
      try {
        const ok = await argon2.verify(target, password);
        return hash !== null && ok;
      } catch {
        return false;
      }
    });
  }

  private guarded<T>(work: () => Promise<T>): Promise<T> {
    return this.bulkhead === null ? work() : this.bulkhead.run(work);
  }

  private dummyHash(): Promise<string> {
    this.dummy ??= argon2.hash('rampart-timing-equaliser', OPTIONS);
    return this.dummy;
  }
}
