import { describe, expect, it } from 'vitest';
import { remainingLifetimeMs } from './session-lifetime.js';

const TIMEOUTS = { idleTimeoutS: 1800, absoluteTimeoutS: 43_200, anonymousTimeoutS: 300 };
const user = { id: 1, username: 'alice', role: 'viewer' as const };

describe(remainingLifetimeMs.name, () => {
  it("a session's own maxLifetimeS shortens its absolute timeout, never lengthens it", () => {
    const createdAt = 1_000_000;
    // 100 s after sign-in: the idle timeout decides for the ordinary session...
    expect(remainingLifetimeMs({ createdAt, user }, TIMEOUTS, createdAt + 100_000)).toBe(1_800_000);
    // ...the directory user's hour for theirs, and past it the session has expired.
    expect(remainingLifetimeMs({ createdAt, user, maxLifetimeS: 3600 }, TIMEOUTS, createdAt + 3_000_000)).toBe(600_000);
    expect(remainingLifetimeMs({ createdAt, user, maxLifetimeS: 3600 }, TIMEOUTS, createdAt + 3_600_000)).toBeLessThanOrEqual(0);
    // Longer than SESSION_ABSOLUTE_TIMEOUT_S: the configured one still ends it.
    expect(remainingLifetimeMs({ createdAt, user, maxLifetimeS: 100_000 }, TIMEOUTS, createdAt + 43_200_000)).toBeLessThanOrEqual(0);
  });
});
