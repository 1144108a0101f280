import { describe, expect, it } from 'vitest';
import { connectionFailed, guardedClientClass, keepAliveOptions } from './pg-client.js';

describe(guardedClientClass.name, () => {
  it('gives every client an error listener from construction, so a link failure cannot throw', () => {
    const seen: Error[] = [];
    const Client = guardedClientClass((error) => seen.push(error));
    const client = new Client({ connectionString: 'postgres://nobody@127.0.0.1:1/none' });
    expect(client.listenerCount('error')).toBe(1);
    expect(connectionFailed(client)).toBe(false);
    // A plain EventEmitter with no listener would throw this out of emit().
    expect(() => client.emit('error', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).not.toThrow();
    expect(seen.map((e) => e.message)).toEqual(['read ECONNRESET']);
    expect(connectionFailed(client)).toBe(true);
  });

  it('turns TCP keepalive on with the configured idle', () => {
    expect(keepAliveOptions(10_000)).toEqual({ keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
  });
});
