// The fast telemetry check against its spec, zod `TelemetryBatch` via parseMessage (design §4): same
// verdict, same refusal code and the same value for every payload, valid or mutated.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  HISTOGRAM_MAX_BUCKETS,
  HISTOGRAM_MIN_ALPHA,
  LIMITS,
  TELEMETRY_LIMITS,
  TelemetryBatch,
  createWindow,
  histogramAdd,
  histogramIndexRange,
  parseMessage,
  utf8Encode,
} from '@edgefleet/protocol';
import { isPlainTelemetryBatch, parseStoredWindow, parseTelemetryBatch } from './fast-check.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function richBatch(): Json {
  const w = createWindow('tiny.model_v-2', '1.2.3-rc.1+b7', 'active', 60_000, 120_000);
  for (const l of [0, 0.5, 2, 3.3, 80]) histogramAdd(w.latencyMs, l);
  w.inferences = 5;
  w.errors = { INFERENCE_FAILED: 2, BAD_INPUT: 0 };
  // `secret`: moments withheld by the device (a feature its capture policy redacts): bins and counts only
  w.features = { temp: { bins: [1, 2, 0], nulls: 1, count: 3, sum: 3.5, sumSq: 9.25, min: -1, max: 2.5 }, secret: { bins: [0, 2], nulls: 0, count: 2 } };
  w.outputs = {
    classCounts: [3, 2],
    confidence: [0, 0, 1, 4, 0, 0, 0, 0, 0, 0],
    valueBins: [1],
    confidenceSums: { count: 5, sum: 3_500_000, sumSq: 2_600_000, classCounts: [3, 2], classSums: [2_000_000, 1_500_000] },
  };
  w.labels = { labelled: 3, correct: 2, confusion: [[0, 0, 2], [1, 0, 1]] };
  const shadow = createWindow('tiny', '1.0.0', 'shadow', 0, 60_000);
  histogramAdd(shadow.latencyMs, 4);
  w.shadow = { compared: 1, agreed: 1, dropped: 0, latencyMs: shadow.latencyMs };
  const bare = createWindow('other', '0.0.1', 'shadow', 0, 1);
  const { errors: _e, features: _f, ...noDefaults } = bare;
  return JSON.parse(JSON.stringify({ deviceId: 'pump-7', seq: 12, windows: [w, noDefaults], dropped: 3 })) as Json;
}

/** Every path to a value in the document. */
function paths(v: Json, at: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  return out;
}

function mutate(doc: Json, path: Array<string | number>, change: (parent: Record<string | number, Json>, key: string | number) => void): Json {
  const copy = JSON.parse(JSON.stringify(doc)) as Json;
  let parent = copy as unknown as Record<string | number, Json>;
  for (const k of path.slice(0, -1)) parent = parent[k] as unknown as Record<string | number, Json>;
  change(parent, path[path.length - 1]!);
  return copy;
}

const REPLACEMENTS: Json[] = [null, -1, 0, 0.5, 0.6, 2 ** 53, -(2 ** 31), 'x', '', true, [], {}, [1, 2, 3], 'active', 'shadow', '1.0.0', 'pump-7', 'A'];

function expectSame(text: string): void {
  const spec = parseMessage(text, TelemetryBatch, LIMITS.telemetry);
  const fast = parseTelemetryBatch(Buffer.from(utf8Encode(text)));
  expect(fast.ok, text).toBe(spec.ok);
  if (spec.ok && fast.ok) expect(fast.value, text).toEqual(spec.value);
  if (!spec.ok && !fast.ok) expect(fast.code, text).toBe(spec.code);
}

describe('parseTelemetryBatch', () => {
  it('accepts a full batch without zod and returns what zod returns, defaults filled in', () => {
    const doc = richBatch();
    expect(isPlainTelemetryBatch(JSON.parse(JSON.stringify(doc)))).toBe(true);
    expectSame(JSON.stringify(doc));
  });

  it('agrees with zod on every field replaced, removed or joined by an unknown key', () => {
    const doc = richBatch();
    let cases = 0;
    for (const path of paths(doc).slice(1)) {
      for (const r of REPLACEMENTS) {
        expectSame(JSON.stringify(mutate(doc, path, (p, k) => (p[k] = r))));
        cases++;
      }
      expectSame(JSON.stringify(mutate(doc, path, (p, k) => (Array.isArray(p) ? p.splice(Number(k), 1) : delete p[k]))));
      const parentIsObject = (p: unknown) => p !== null && typeof p === 'object' && !Array.isArray(p);
      expectSame(JSON.stringify(mutate(doc, path, (p) => parentIsObject(p) && (p['zz-extra'] = 1))));
      cases += 2;
    }
    expect(cases).toBeGreaterThan(1000);
  });

  it('agrees with zod on JSON-only edge cases: __proto__ keys, huge numbers, length caps, bad UTF-8, oversize', () => {
    const doc = richBatch() as { windows: Array<Record<string, unknown>> };
    const w = JSON.stringify(doc.windows[0]);
    const texts = [
      '{"deviceId":"pump-7","seq":1,"windows":[],"__proto__":{"x":1}}',
      `{"deviceId":"pump-7","seq":1,"windows":[${w.replace('"errors":{', '"errors":{"__proto__":1,')}]}`,
      `{"deviceId":"pump-7","seq":1,"windows":[${w.replace('"features":{', '"features":{"__proto__":{"bins":[],"nulls":0,"count":0,"sum":0,"sumSq":0,"min":null,"max":null},')}]}`,
      `{"deviceId":"pump-7","seq":1e400,"windows":[]}`,
      `{"deviceId":"pump-7","seq":1,"windows":[${w.replace('"sum":', '"sum":1e400,"x":')}]}`,
      `{"deviceId":"pump-7","seq":1,"windows":[${w.replace('"temp":', `"${'f'.repeat(128)}":`)}]}`,
      `{"deviceId":"pump-7","seq":1,"windows":[${w.replace('"temp":', `"${'f'.repeat(129)}":`)}]}`,
      `{"deviceId":"pump-7","seq":1,"windows":[${Array(LIMITS.windowsPerBatch).fill(w).join(',')}]}`,
      `{"deviceId":"pump-7","seq":1,"windows":[${Array(LIMITS.windowsPerBatch + 1).fill(w).join(',')}]}`,
      `{"deviceId":"${'a'.repeat(63)}","seq":0,"windows":[]}`,
      `{"deviceId":"${'a'.repeat(64)}","seq":0,"windows":[]}`,
      '{"deviceId":"pump-7","seq":-0,"windows":[],"dropped":-0}',
      '{"deviceId":"pump-7","seq":1,"windows":[],"confirm":true}',
      '{"deviceId":"pump-7","seq":1,"windows":[],"confirm":false}',
      '{"deviceId":"pump-7","seq":1,"windows":[],"confirm":1}',
      '{"deviceId":"pump-7","seq":1,"windows":[],"confirm":null}',
      '{"deviceId":"pump-7","seq":1,"windows":[]',
      '[]',
      'null',
      '"pump-7"',
      '{"deviceId":"dev-t1","seq":-1,"windows":[]}',
      `{"deviceId":"pump-7","seq":1,"windows":[],"pad":"${'x'.repeat(LIMITS.telemetry)}"}`,
    ];
    for (const t of texts) expectSame(t);
    expectSame('\uFEFF{"deviceId":"pump-7","seq":1,"windows":[]}');
    const badUtf8 = Buffer.concat([Buffer.from('{"deviceId":"pump-7","seq":1,"windows":[],"x":"'), Buffer.from([0xff]), Buffer.from('"}')]);
    const r = parseTelemetryBatch(badUtf8);
    expect(r.ok ? 'ok' : r.code).toBe('BAD_JSON');
  });

  it('agrees with zod at every telemetry bound, just inside and just outside', () => {
    const doc = richBatch() as { windows: Array<Record<string, any>> };
    const base = doc.windows[0]!;
    const h = base.latencyMs as { alpha: number; offset: number; counts: number[]; count: number; zeros: number };
    const [lo, hi] = histogramIndexRange(h.alpha);
    const C = TELEMETRY_LIMITS.count;
    const variants: Array<(w: Record<string, any>) => void> = [
      (w) => (w.latencyMs = { ...h, offset: lo }),
      (w) => (w.latencyMs = { ...h, offset: lo - 1 }),
      (w) => (w.latencyMs = { ...h, offset: hi - h.counts.length + 1 }),
      (w) => (w.latencyMs = { ...h, offset: hi - h.counts.length + 2 }),
      (w) => (w.latencyMs = { ...h, offset: 500_000_000 }),
      (w) => (w.latencyMs = { ...h, count: h.count + 1 }),
      (w) => (w.latencyMs = { ...h, zeros: h.zeros + 1 }),
      (w) => (w.latencyMs = { ...h, counts: [C], count: C, zeros: 0, offset: 0 }),
      (w) => (w.latencyMs = { ...h, counts: [C + 1], count: C + 1, zeros: 0, offset: 0 }),
      (w) => (w.latencyMs = { ...h, counts: [C, C], count: 2 * C, zeros: 0, offset: 0 }),
      (w) => (w.latencyMs = { ...h, counts: new Array(HISTOGRAM_MAX_BUCKETS + 1).fill(0), count: h.zeros, offset: 0 }),
      (w) => (w.latencyMs = { ...h, alpha: HISTOGRAM_MIN_ALPHA, offset: 0 }),
      (w) => (w.latencyMs = { ...h, alpha: HISTOGRAM_MIN_ALPHA * 0.999, offset: 0 }),
      (w) => (w.inferences = C),
      (w) => (w.inferences = C + 1),
      (w) => (w.errors = { INFERENCE_FAILED: C + 1 }),
      (w) => (w.end = w.start),
      (w) => (w.end = w.start - 1),
      (w) => (w.end = w.start + TELEMETRY_LIMITS.spanMs),
      (w) => (w.end = w.start + TELEMETRY_LIMITS.spanMs + 1),
      (w) => (w.labels = { labelled: 1, correct: 1, confusion: [[TELEMETRY_LIMITS.classes - 1, 0, 1]] }),
      (w) => (w.labels = { labelled: 1, correct: 1, confusion: [[TELEMETRY_LIMITS.classes, 0, 1]] }),
      (w) => (w.labels = { labelled: 1, correct: 2, confusion: [] }),
      (w) => (w.shadow = { ...w.shadow, agreed: 2, compared: 1 }),
      (w) => (w.shadow = { ...w.shadow, latencyMs: { ...h, offset: hi + 1 } }),
      (w) => (w.outputs = { classCounts: new Array(TELEMETRY_LIMITS.classes).fill(1) }),
      (w) => (w.outputs = { classCounts: new Array(TELEMETRY_LIMITS.classes + 1).fill(1) }),
      (w) => (w.features = { ...w.features, temp: { ...w.features.temp, count: 4 } }),
      (w) => (w.features = Object.fromEntries(Array.from({ length: TELEMETRY_LIMITS.features }, (_, i) => [`f${i}`, w.features.temp]))),
      (w) => (w.features = Object.fromEntries(Array.from({ length: TELEMETRY_LIMITS.features + 1 }, (_, i) => [`f${i}`, w.features.temp]))),
    ];
    let valid = 0;
    for (const change of variants) {
      const w = structuredClone(base);
      change(w);
      const text = JSON.stringify({ ...doc, windows: [w] });
      expectSame(text);
      if (parseMessage(text, TelemetryBatch, LIMITS.telemetry).ok) valid++;
    }
    // both sides of the bounds were exercised
    expect(valid).toBeGreaterThan(8);
    expect(valid).toBeLessThan(variants.length - 8);
  });
});

describe('parseTelemetryBatch, property-based', () => {
  // numbers from around every bound, in every numeric field of a window: same verdict, code and value as zod
  const edgy = fc.oneof(
    fc.constantFrom(0, -0, 1, -1, 0.5, 2 ** 53, -(2 ** 53), TELEMETRY_LIMITS.count, TELEMETRY_LIMITS.count + 1, TELEMETRY_LIMITS.classes, HISTOGRAM_MIN_ALPHA, 0.01, 0.5, 0.51),
    fc.integer({ min: -5000, max: 5000 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
  );
  /** Mostly a sane value, sometimes one from around a bound. */
  const mostly = <T,>(sane: fc.Arbitrary<T>) => fc.oneof({ arbitrary: sane, weight: 40 }, { arbitrary: edgy as fc.Arbitrary<T | number>, weight: 1 });
  const histogram = fc.record({
    alpha: mostly(fc.constant(0.01)),
    offset: mostly(fc.integer({ min: -1100, max: 1100 })),
    counts: fc.array(mostly(fc.nat({ max: 5 })), { maxLength: 6 }),
    zeros: mostly(fc.nat({ max: 3 })),
    extra: mostly(fc.constant(0)),
  }).map((h) => {
    const total = h.zeros + h.counts.reduce((a, b) => a + b, 0);
    return { alpha: h.alpha, count: h.extra === 0 ? total : total + h.extra, sum: 1, min: 1, max: 2, zeros: h.zeros, offset: h.offset, counts: h.counts };
  });
  const window = fc.record({
    start: mostly(fc.constant(60_000)),
    span: mostly(fc.constant(60_000)),
    inferences: mostly(fc.nat({ max: 100 })),
    latencyMs: histogram,
    bins: fc.array(mostly(fc.nat({ max: 5 })), { maxLength: 4 }),
    featureCount: mostly(fc.oneof(fc.constant(-1), fc.nat({ max: 20 }))),
    labels: fc.option(fc.tuple(mostly(fc.nat({ max: 4 })), mostly(fc.nat({ max: 4 })), mostly(fc.nat({ max: 4100 })))),
    shadow: fc.option(fc.tuple(mostly(fc.nat({ max: 4 })), mostly(fc.nat({ max: 4 })), histogram)),
  }).map((r) => {
    const w: Record<string, unknown> = { model: 'm', version: '1.0.0', role: 'active', start: r.start, end: r.start + r.span, inferences: r.inferences, latencyMs: r.latencyMs };
    const sumBins = r.bins.reduce((a, b) => a + b, 0);
    w.features = { f: { bins: r.bins, nulls: 0, count: r.featureCount === -1 ? sumBins : r.featureCount, sum: 0, sumSq: 0, min: null, max: null } };
    if (r.labels) w.labels = { labelled: r.labels[0], correct: r.labels[1], confusion: [[r.labels[2], 0, 1]] };
    if (r.shadow) w.shadow = { compared: r.shadow[0], agreed: r.shadow[1], dropped: 0, latencyMs: r.shadow[2] };
    return w;
  });

  it('agrees with zod on random windows built around every bound', () => {
    let valid = 0;
    fc.assert(
      fc.property(fc.array(window, { minLength: 1, maxLength: 3 }), (windows) => {
        const text = JSON.stringify({ deviceId: 'pump-7', seq: 1, windows });
        expectSame(text);
        if (parseMessage(text, TelemetryBatch, LIMITS.telemetry).ok) valid++;
      }),
      { numRuns: 400 },
    );
    // both verdicts drawn: about 1 in 20 random batches is valid, so a bound of 10 failed once in a full run
    // (9 of 400); at least one each way fails with odds ~1e-9
    expect(valid).toBeGreaterThan(0);
    expect(valid).toBeLessThan(400);
  });
});

describe('parseStoredWindow', () => {
  it('reads back a merged rollup beyond one window\'s ceiling, and refuses what no merge could produce', () => {
    const w = createWindow('tiny', '1.0.0', 'active', 0, 7_200_000);
    histogramAdd(w.latencyMs, 5, 2);
    w.latencyMs.count = w.latencyMs.counts[0] = 2 * TELEMETRY_LIMITS.count;
    w.inferences = 2 * TELEMETRY_LIMITS.count;
    expect(parseStoredWindow(JSON.stringify(w))).toEqual(w);
    expect(parseStoredWindow('{"latencyMs":')).toBeNull();
    expect(parseStoredWindow(JSON.stringify({ ...w, latencyMs: { ...w.latencyMs, offset: 500_000_000 } }))).toBeNull();
    expect(parseStoredWindow(JSON.stringify({ ...w, start: 8_000_000 }))).toBeNull();
  });
});
