import { describe, expect, it } from 'vitest';
import { StopSignalGate } from './stop-signals.js';

describe('StopSignalGate', () => {
  it('stops on the first signal, takes copies within the window as the same stop, forces on a later one', () => {
    let now = 1000;
    const gate = new StopSignalGate(() => now, 1000);
    expect(gate.signalled).toBe(false);
    expect(gate.classify()).toBe('stop');
    expect(gate.signalled).toBe(true);
    now += 5; // the terminal's Ctrl-C, then npm's forwarded copy
    expect(gate.classify()).toBe('repeat');
    now += 994;
    expect(gate.classify()).toBe('repeat');
    now += 1;
    expect(gate.classify()).toBe('force');
  });
});
