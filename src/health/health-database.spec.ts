import { describe, expect, it } from 'vitest';
import { healthDbTimeouts } from './health-database.js';

describe(healthDbTimeouts.name, () => {
  it.each([50, 500, 10_000])('keeps every driver bound below HEALTH_DB_TIMEOUT_MS=%i, server-side first', (total) => {
    const t = healthDbTimeouts(total);
    expect(t.connectMs).toBeLessThan(total);
    expect(t.statementMs).toBeLessThan(total);
    expect(t.queryMs).toBeLessThan(total);
    // The server cancels before the client gives up, so the backend is freed, not abandoned.
    expect(t.statementMs).toBeLessThan(t.queryMs);
    expect(t.connectMs).toBeGreaterThan(0);
  });
});
