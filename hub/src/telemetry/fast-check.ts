// Fast path for the hot inbound message (design §4, §11): a hand-written check of a parsed telemetry
// batch that accepts only what zod's `TelemetryBatch` accepts, unchanged; anything else goes to zod.

import { isUtf8 } from 'node:buffer';
import {
  CONFIDENCE_BINS,
  CONFIDENCE_SCALE,
  DEVICE_ID_PATTERN,
  ERROR_CODES,
  HISTOGRAM_MAX_BUCKETS,
  HISTOGRAM_MIN_ALPHA,
  LIMITS,
  TELEMETRY_LIMITS,
  TelemetryBatch,
  histogramIssue,
  windowIssue,
  type Histogram,
  type Result,
  type TelemetryWindow,
  type WindowBounds,
} from '@edgefleet/protocol';

// zod `TelemetryBatch` stays the spec: this check may say "not sure" (false) for a valid batch, never
// "valid" for one zod refuses or would change (unknown keys stripped, `__proto__` keys dropped). Its
// result is then exactly zod's output, defaults included, without zod's per-field copy.
const MODEL_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
const ERROR_CODE_SET: ReadonlySet<string> = new Set(ERROR_CODES);

const BATCH_KEYS = new Set(['deviceId', 'seq', 'windows', 'dropped', 'confirm']);
const WINDOW_KEYS = new Set(['model', 'version', 'role', 'start', 'end', 'inferences', 'errors', 'latencyMs', 'features', 'outputs', 'labels', 'shadow']);
const HISTOGRAM_KEYS = new Set(['alpha', 'count', 'sum', 'min', 'max', 'zeros', 'offset', 'counts']);
const FEATURE_KEYS = new Set(['bins', 'nulls', 'count', 'sum', 'sumSq', 'min', 'max']);
const OUTPUT_KEYS = new Set(['classCounts', 'confidence', 'valueBins', 'confidenceSums']);
const CONFIDENCE_SUM_KEYS = new Set(['count', 'sum', 'sumSq', 'classCounts', 'classSums']);
const LABEL_KEYS = new Set(['labelled', 'correct', 'confusion']);
const SHADOW_KEYS = new Set(['compared', 'agreed', 'dropped', 'latencyMs']);

type Obj = Record<string, unknown>;

/** What the checks bound: a device window (the schema's limits), or a merged window read back from the store. */
interface Bounds extends WindowBounds {
  /** Largest count (TELEMETRY_LIMITS.count for a device window). */
  count: number;
}
const DEVICE: Bounds = { count: TELEMETRY_LIMITS.count, spanMs: TELEMETRY_LIMITS.spanMs };
const STORED: Bounds = { count: Number.MAX_SAFE_INTEGER, spanMs: null };

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Every own key known to the schema (zod would strip the others, so the output would differ). */
const onlyKeys = (o: Obj, keys: ReadonlySet<string>): boolean => {
  for (const k of Object.keys(o)) if (!keys.has(k)) return false;
  return true;
};
const num = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);
const int = (v: unknown): boolean => Number.isSafeInteger(v);
const nonNegative = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
const nullableNum = (v: unknown): boolean => v === null || num(v);

function histogram(v: unknown, b: Bounds): boolean {
  if (!isObj(v) || !onlyKeys(v, HISTOGRAM_KEYS)) return false;
  const alpha = v.alpha;
  const count = (x: unknown) => nonNegative(x) && (x as number) <= b.count;
  if (!(num(alpha) && (alpha as number) >= HISTOGRAM_MIN_ALPHA && (alpha as number) <= 0.5)) return false;
  if (!(count(v.count) && num(v.sum) && nullableNum(v.min) && nullableNum(v.max) && count(v.zeros) && int(v.offset))) return false;
  if (!counts(v.counts, HISTOGRAM_MAX_BUCKETS, b)) return false;
  return histogramIssue(v as unknown as Histogram) === null;
}

function counts(v: unknown, max: number, b: Bounds): boolean {
  if (!Array.isArray(v) || v.length > max) return false;
  for (let i = 0; i < v.length; i++) if (!nonNegative(v[i]) || v[i] > b.count) return false;
  return true;
}

function feature(v: unknown, b: Bounds): boolean {
  if (!isObj(v) || !onlyKeys(v, FEATURE_KEYS)) return false;
  const count = (x: unknown) => nonNegative(x) && (x as number) <= b.count;
  if (!(counts(v.bins, 65, b) && count(v.nulls) && count(v.count))) return false;
  // moments all present or all absent (withheld by the device): windowIssue refuses anything between
  if (!('sum' in v) && !('sumSq' in v) && !('min' in v) && !('max' in v)) return true;
  return num(v.sum) && num(v.sumSq) && nullableNum(v.min) && nullableNum(v.max);
}

/** The shape of ConfidenceSums (its consistency is windowIssue's, below); sums are bounded by count × scale. */
function confidenceSums(v: unknown, b: Bounds): boolean {
  if (!isObj(v) || !onlyKeys(v, CONFIDENCE_SUM_KEYS)) return false;
  const scaled: Bounds = { ...b, count: Math.min(Number.MAX_SAFE_INTEGER, b.count * CONFIDENCE_SCALE) };
  const sum = (x: unknown) => nonNegative(x) && (x as number) <= scaled.count;
  if (!(nonNegative(v.count) && (v.count as number) <= b.count && sum(v.sum) && sum(v.sumSq))) return false;
  return counts(v.classCounts, TELEMETRY_LIMITS.classes, b) && counts(v.classSums, TELEMETRY_LIMITS.classes, scaled);
}

function window(w: unknown, b: Bounds): boolean {
  if (!isObj(w) || !onlyKeys(w, WINDOW_KEYS)) return false;
  const count = (x: unknown) => nonNegative(x) && (x as number) <= b.count;
  const classIndex = (x: unknown) => nonNegative(x) && (x as number) < TELEMETRY_LIMITS.classes;
  if (typeof w.model !== 'string' || !MODEL_NAME.test(w.model)) return false;
  if (typeof w.version !== 'string' || !SEMVER.test(w.version)) return false;
  if (w.role !== 'active' && w.role !== 'shadow') return false;
  if (!nonNegative(w.start) || !nonNegative(w.end) || !count(w.inferences)) return false;
  if (!histogram(w.latencyMs, b)) return false;
  if ('errors' in w) {
    const e = w.errors;
    if (!isObj(e)) return false;
    for (const k of Object.keys(e)) if (!ERROR_CODE_SET.has(k) || !count(e[k])) return false;
  }
  if ('features' in w) {
    const f = w.features;
    if (!isObj(f)) return false;
    for (const k of Object.keys(f)) if (k.length > 128 || k === '__proto__' || !feature(f[k], b)) return false;
  }
  if ('outputs' in w) {
    const o = w.outputs;
    if (!isObj(o) || !onlyKeys(o, OUTPUT_KEYS)) return false;
    for (const [k, max] of [['classCounts', TELEMETRY_LIMITS.classes], ['confidence', CONFIDENCE_BINS], ['valueBins', 65]] as const) {
      if (k in o && !counts(o[k], max, b)) return false;
    }
    if ('confidenceSums' in o && !confidenceSums(o.confidenceSums, b)) return false;
  }
  if ('labels' in w) {
    const l = w.labels;
    if (!isObj(l) || !onlyKeys(l, LABEL_KEYS) || !count(l.labelled) || !count(l.correct)) return false;
    const c = l.confusion;
    if (!Array.isArray(c) || c.length > TELEMETRY_LIMITS.confusion) return false;
    for (const t of c) if (!Array.isArray(t) || t.length !== 3 || !classIndex(t[0]) || !classIndex(t[1]) || !count(t[2])) return false;
  }
  if ('shadow' in w) {
    const s = w.shadow;
    if (!isObj(s) || !onlyKeys(s, SHADOW_KEYS) || !count(s.compared) || !count(s.agreed) || !count(s.dropped) || !histogram(s.latencyMs, b)) return false;
  }
  // the parts fit together (the schema's refinement, the same function); zod's defaults for the check
  const parts = { start: w.start as number, end: w.end as number, features: (w.features ?? {}) as TelemetryWindow['features'], labels: w.labels as TelemetryWindow['labels'], shadow: w.shadow as TelemetryWindow['shadow'], outputs: w.outputs as TelemetryWindow['outputs'] };
  if (windowIssue(parts, b) !== null) return false;
  // zod's defaults, set only once the whole window is known good
  if (!('errors' in w)) w.errors = {};
  if (!('features' in w)) w.features = {};
  return true;
}

/**
 * True when `v` is a `TelemetryBatch` zod accepts as is (its defaults are then filled in place);
 * false when zod must decide (a refusal, or a batch zod would accept only after changing it).
 */
export function isPlainTelemetryBatch(v: unknown): v is TelemetryBatch {
  if (!isObj(v) || !onlyKeys(v, BATCH_KEYS)) return false;
  if (typeof v.deviceId !== 'string' || !DEVICE_ID_PATTERN.test(v.deviceId) || !nonNegative(v.seq)) return false;
  if ('dropped' in v && !(nonNegative(v.dropped) && (v.dropped as number) <= TELEMETRY_LIMITS.count)) return false;
  if ('confirm' in v && typeof v.confirm !== 'boolean') return false;
  const ws = v.windows;
  if (!Array.isArray(ws) || ws.length > LIMITS.windowsPerBatch) return false;
  for (let i = 0; i < ws.length; i++) if (!window(ws[i], DEVICE)) return false;
  if (!('dropped' in v)) v.dropped = 0;
  return true;
}

/**
 * `parseMessage(payload, TelemetryBatch, LIMITS.telemetry)` with the same refusals in the same order
 * (TOO_LARGE → BAD_JSON → BAD_MESSAGE, design §4), zod run only when the fast check is not sure.
 */
export function parseTelemetryBatch(payload: Buffer): Result<TelemetryBatch> {
  if (payload.length > LIMITS.telemetry) {
    return { ok: false, code: 'TOO_LARGE', message: `message of ${payload.length} bytes exceeds the ${LIMITS.telemetry}-byte cap` };
  }
  let json: unknown;
  try {
    // protocol's utf8Decode (fatal, BOM kept) without TextDecoder's cost: invalid UTF-8 is refused the same way
    if (!isUtf8(payload)) throw new TypeError('The encoded data was not valid for encoding utf-8');
    json = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    return { ok: false, code: 'BAD_JSON', message: `message is not valid UTF-8 JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (isPlainTelemetryBatch(json)) return { ok: true, value: json };
  const parsed = TelemetryBatch.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
    return { ok: false, code: 'BAD_MESSAGE', message: `message does not match its schema: ${issues.join('; ')}` };
  }
  return { ok: true, value: parsed.data };
}

/**
 * A window read back from the store (a rollup or a raw window), or null when it is not one this hub could
 * have written: bad JSON, or buckets, sizes or parts beyond what ingest accepts (a database written before
 * these checks, or edited by hand). Readers skip it, so one stored row can never make a merge allocate by
 * its content or throw.
 */
export function parseStoredWindow(body: string): TelemetryWindow | null {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return null;
  }
  return window(json, STORED) ? (json as TelemetryWindow) : null;
}
