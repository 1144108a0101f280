import argon2 from 'argon2';

// OWASP's argon2id baseline (19 MiB, t=2, p=1): a login costs tens of milliseconds, not hundreds.
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Hashes and verifies passwords; unknown users are verified against a dummy hash so they cost the same. */
export class PasswordHasher {
  private dummy: Promise<string> | null = null;

  hash(password: string): Promise<string> {
    return argon2.hash(password, OPTIONS);
  }

  async verify(hash: string | null, password: string): Promise<boolean> {
    const target = hash ?? (await this.dummyHash());
    try {
      const ok = await argon2.verify(target, password);
      return hash !== null && ok;
    } catch {
      return false;
    }
  }

  private dummyHash(): Promise<string> {
    this.dummy ??= argon2.hash('rampart-timing-equaliser', OPTIONS);
    return this.dummy;
  }
}
