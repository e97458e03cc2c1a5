import { describe, expect, it } from 'vitest';
import { createHistogram, createWindow, histogramAdd } from '@edgefleet/protocol';
import { createMetrics, LATENCY_BUCKETS_SECONDS } from '../metrics.js';
import { LATENCY_METRIC, latencyBuckets, observeLatency } from './latency-metric.js';

const BOUNDS = [0.001, 0.005, 0.01, 0.1];

describe('latency histogram → Prometheus buckets', () => {
  it('puts each observation under the first bound at or above it, within the sketch accuracy', () => {
    const h = createHistogram();
    for (const ms of [0.5, 3, 4, 7, 9.5, 50, 2000]) histogramAdd(h, ms);
    expect(latencyBuckets(h, BOUNDS)).toEqual([1, 2, 2, 1, 1]);
  });

  it('never counts a call faster than it may have been: a bucket straddling a bound counts above it', () => {
    const h = createHistogram();
    histogramAdd(h, 4.999, 10); // its sketch bucket spans 5 ms; the max (exact) is also above nothing
    histogramAdd(h, 6, 1);
    const out = latencyBuckets(h, BOUNDS);
    expect(out.reduce((a, b) => a + b, 0)).toBe(11);
    // the 4.999 ms calls share a bucket with values above 5 ms: they count at ≤ 10 ms, not ≤ 5 ms
    expect(out).toEqual([0, 0, 11, 0, 0]);
  });

  it('uses the exact max: everything at or below a bound once the max is', () => {
    const h = createHistogram();
    histogramAdd(h, 5, 3); // exactly on the bound
    expect(latencyBuckets(h, BOUNDS)).toEqual([0, 3, 0, 0, 0]);
  });

  it('counts zeros in the first bucket and keeps counts that add up to the histogram', () => {
    const h = createHistogram();
    histogramAdd(h, 0, 2);
    histogramAdd(h, 1e8, 1); // far above every bound
    expect(latencyBuckets(h, BOUNDS)).toEqual([2, 0, 0, 0, 1]);
    expect(latencyBuckets(createHistogram(), BOUNDS)).toEqual([0, 0, 0, 0, 0]);
  });

  it('observes only registered model versions, in seconds, and renders a cumulative histogram', () => {
    const metrics = createMetrics([]);
    const known = createWindow('tiny', '1.0.0', 'active', 0, 60_000);
    for (const ms of [2, 3, 40]) histogramAdd(known.latencyMs, ms);
    const unknown = createWindow('made-up', '9.9.9', 'active', 0, 60_000);
    histogramAdd(unknown.latencyMs, 1);
    observeLatency(metrics, LATENCY_BUCKETS_SECONDS, [known, unknown, known], (m) => m === 'tiny');
    const text = metrics.render();
    expect(text).toContain(`# TYPE ${LATENCY_METRIC} histogram`);
    expect(text).toContain(`${LATENCY_METRIC}_bucket{model="tiny",version="1.0.0",role="active",le="0.0025"} 2`);
    expect(text).toContain(`${LATENCY_METRIC}_bucket{model="tiny",version="1.0.0",role="active",le="0.005"} 4`);
    expect(text).toContain(`${LATENCY_METRIC}_bucket{model="tiny",version="1.0.0",role="active",le="+Inf"} 6`);
    expect(text).toContain(`${LATENCY_METRIC}_count{model="tiny",version="1.0.0",role="active"} 6`);
    expect(text).toMatch(new RegExp(`${LATENCY_METRIC}_sum\\{model="tiny",version="1.0.0",role="active"\\} 0\\.09(0+\\d*)?\\n`));
    expect(text).not.toContain('made-up');
  });
});
