// The one merge of telemetry windows (design §6): the in-place rollup merge equals protocol's
// mergeWindows, and the health merge leaves out a window that cannot merge whole, as the rollups do.
import { describe, expect, it } from 'vitest';
import { createHistogram, createWindow, histogramAdd, mergeWindows, type TelemetryWindow } from '@edgefleet/protocol';
import { createHealthMerge, mergeHealth, mergeInPlace } from './merge.js';

describe('mergeInPlace', () => {
  const win = (start: number, latencies: number[], errors: TelemetryWindow['errors'] = {}): TelemetryWindow => {
    const w = createWindow('tiny', '1.0.0', 'active', start, start + 60_000);
    for (const l of latencies) histogramAdd(w.latencyMs, l);
    w.inferences = latencies.length;
    w.errors = errors;
    return w;
  };

  it('leaves the target equal to what mergeWindows returns, for plain windows', () => {
    const cases: Array<[TelemetryWindow, TelemetryWindow]> = [
      [win(60_000, [1, 2, 3], { BAD_INPUT: 1 }), win(0, [0, 500, 0.01], { BAD_INPUT: 2, INFERENCE_FAILED: 1 })],
      [win(0, []), win(120_000, [7])],
      [win(0, [3]), win(0, [])],
    ];
    const withFeature = win(0, [2]);
    withFeature.features = { f: { bins: [1, 0], nulls: 0, count: 1, sum: 1, sumSq: 1, min: 1, max: 1 } };
    cases.push([withFeature, win(0, [4])]);
    for (const [a, b] of cases) {
      const expected = mergeWindows(a, b);
      expect(mergeInPlace(a, b)).toBe(true);
      expect(a).toEqual(expected);
    }
  });

  it('declines, unchanged, what it does not handle, and throws unchanged on another histogram accuracy', () => {
    const a = win(0, [1]);
    const b = win(0, [2]);
    b.labels = { labelled: 1, correct: 1, confusion: [[0, 0, 1]] };
    const before = structuredClone(a);
    expect(mergeInPlace(a, b)).toBe(false);
    const c = win(0, [2]);
    c.latencyMs = createHistogram(0.05);
    histogramAdd(c.latencyMs, 3);
    expect(() => mergeInPlace(a, c)).toThrow();
    expect(a).toEqual(before);
  });
});

describe('createHealthMerge', () => {
  const win = (role: 'active' | 'shadow', latencies: number[], bins?: number[]): TelemetryWindow => {
    const w = createWindow('tiny', '1.0.0', role, 0, 60_000);
    for (const l of latencies) histogramAdd(w.latencyMs, l);
    w.inferences = latencies.length;
    if (bins) w.features = { f: { bins, nulls: 0, count: bins.reduce((a, b) => a + b, 0), sum: 0, sumSq: 0, min: 0, max: 0 } };
    return w;
  };

  it('adds windows of devices and roles, and counts the devices whose windows merged', () => {
    const h = mergeHealth([
      { device: 'a', window: win('active', [1, 2], [1, 1]) },
      { device: 'b', window: win('shadow', [3], [0, 1]) },
      { device: 'a', window: win('active', [4]) },
    ]);
    expect(h.devices).toBe(2);
    expect(h.inferences).toBe(4);
    expect(h.latencyMs.count).toBe(4);
    expect(h.features.f?.bins).toEqual([1, 2]);
  });

  it('leaves out whole a window of another bin layout or accuracy, and never changes its inputs', () => {
    const first = win('active', [1], [1, 0]);
    const before = structuredClone(first);
    const m = createHealthMerge();
    expect(m.add('a', first)).toBe(true);
    expect(m.add('b', win('active', [2, 2], [1, 0, 1]))).toBe(false);
    const other = win('active', [3]);
    other.latencyMs = createHistogram(0.05);
    histogramAdd(other.latencyMs, 3);
    expect(m.add('c', other)).toBe(false);
    expect(m.add('d', win('active', [5], [0, 1]))).toBe(true);
    const h = m.result();
    expect(h).toMatchObject({ devices: 2, inferences: 2 });
    expect(h.features.f?.bins).toEqual([1, 1]);
    expect(first).toEqual(before);
    expect(m.result(7).devices).toBe(7);
  });
});
