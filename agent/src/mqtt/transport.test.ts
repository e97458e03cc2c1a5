// Reconnect timing of the mqtt.js transport: exponential growth, capped, fully jittered.

import { describe, expect, it } from 'vitest';
import { reconnectDelay } from './transport.js';

describe('reconnect delay', () => {
  it('doubles its upper bound per attempt up to the cap', () => {
    const top = (n: number): number => reconnectDelay(n, 500, 60_000, () => 0.999999);
    expect([0, 1, 2, 3, 4].map(top)).toEqual([499, 999, 1999, 3999, 7999]);
    expect(top(20)).toBe(59_999);
    expect(top(1000)).toBe(59_999);
  });

  it('spreads devices over the whole interval instead of a fixed period', () => {
    let seed = 1;
    const rng = (): number => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const delays = Array.from({ length: 1000 }, () => reconnectDelay(6, 500, 60_000, rng));
    const buckets = new Array(4).fill(0);
    for (const d of delays) buckets[Math.min(3, Math.floor(d / 8000))]++;
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(50);
    expect(Math.max(...delays)).toBeLessThan(32_000);
    for (const b of buckets) expect(b).toBeGreaterThan(150); // roughly uniform over [0, 32 s)
  });
});
