// The per-device token buckets on a fake clock: burst, sustained rate, per device and kind, bounded memory.
import { describe, expect, it } from 'vitest';
import { createDeviceRateLimits } from './rate-limit.js';

describe('device rate limits', () => {
  it('lets a burst through, then one message per refill interval', () => {
    let t = 0;
    const limits = createDeviceRateLimits({ events: { burst: 3, perSecond: 2 }, now: () => t });
    expect([1, 2, 3, 4].map(() => limits.take('events', 'd1'))).toEqual([true, true, true, false]);
    t += 499;
    expect(limits.take('events', 'd1')).toBe(false);
    t += 1;
    expect(limits.take('events', 'd1')).toBe(true);
    t += 60_000; // a quiet minute refills the burst, never more
    expect([1, 2, 3, 4].map(() => limits.take('events', 'd1'))).toEqual([true, true, true, false]);
  });

  it('keeps one bucket per device and kind, and does not limit what is not configured', () => {
    const limits = createDeviceRateLimits({ events: { burst: 1, perSecond: 0 }, now: () => 0 });
    expect(limits.take('events', 'd1')).toBe(true);
    expect(limits.take('events', 'd1')).toBe(false);
    expect(limits.take('events', 'd2')).toBe(true);
    for (let i = 0; i < 100; i++) expect(limits.take('telemetry', 'd1')).toBe(true); // off by default
    expect(limits.take('reported', 'd1')).toBe(true);
    limits.forget('d1');
    expect(limits.take('events', 'd1')).toBe(true);
  });

  it('holds at most maxBuckets buckets, dropping the least recently used', () => {
    const limits = createDeviceRateLimits({ events: { burst: 1, perSecond: 0 }, maxBuckets: 100, now: () => 0 });
    for (let i = 0; i < 10_000; i++) limits.take('events', `d${i}`);
    expect(limits.size()).toBe(100);
    // the most recent devices are still limited; the evicted first one starts again with a full bucket
    expect(limits.take('events', 'd9999')).toBe(false);
    expect(limits.take('events', 'd0')).toBe(true);
    expect(limits.size()).toBe(100);
  });
});
