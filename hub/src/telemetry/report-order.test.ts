// The device's own order of its reports (design §8): desired sequence first, then the device's clock.
import { describe, expect, it } from 'vitest';
import { isNewerReport } from './report-order.js';

const report = (desiredSequence: number, at: string) => ({ desiredSequence, at });

describe('isNewerReport', () => {
  it('takes a later report of the same desired state and refuses an earlier one', () => {
    const stored = report(3, '2026-01-01T00:00:01.000Z');
    expect(isNewerReport(stored, report(3, '2026-01-01T00:00:01.001Z'))).toBe(true);
    expect(isNewerReport(stored, report(3, '2026-01-01T00:00:00.999Z'))).toBe(false);
  });

  it('takes a report made in the same millisecond as the stored one (two reports of one instant arrive in the device’s order)', () => {
    expect(isNewerReport(report(3, '2026-01-01T00:00:01Z'), report(3, '2026-01-01T00:00:01Z'))).toBe(true);
  });

  it('orders by desired sequence before the clock, so a device whose clock stepped back is not held at an old state', () => {
    const stored = report(3, '2026-01-01T12:00:00Z');
    expect(isNewerReport(stored, report(4, '2026-01-01T08:00:00Z'))).toBe(true);
    expect(isNewerReport(report(4, '2026-01-01T08:00:00Z'), stored)).toBe(false);
  });

  it('compares instants, not strings, across time-zone offsets', () => {
    // 01:00+02:00 is 23:00Z the day before: earlier, although its text sorts later
    expect(isNewerReport(report(1, '2026-01-01T00:00:00Z'), report(1, '2026-01-01T01:00:00+02:00'))).toBe(false);
  });

  it('takes any report when nothing comparable is stored (none yet, or a row of another shape)', () => {
    expect(isNewerReport(null, report(0, '2026-01-01T00:00:00Z'))).toBe(true);
    expect(isNewerReport({ forged: true }, report(0, '2026-01-01T00:00:00Z'))).toBe(true);
    expect(isNewerReport(report(1, 'not a time'), report(0, '2026-01-01T00:00:00Z'))).toBe(true);
  });
});
