// Field-data capture on the device (design §4, §6; policy: protocol schemas/capture.ts). A signed rule per model
// version says what to sample; this part decides per prediction (nothing built when nothing triggers), copies
// the allow-listed, unredacted features of a captured one, and off the inference path (drafts, below) hashes
// named fields, enforces the per-window byte quota and hands rows to the outbox (reporter.ts) — no row is stored
// or sent before it was hashed — which bounds them on disk and sends them exactly once with a batch.
// The device's own switch (agent config `capture.enabled`, `setEnabled`) wins over any policy.

import {
  CAPTURE_LIMITS,
  captureRuleFor,
  captureWithheld,
  extractFeatureValues,
  withholdMoments,
  type Capture as CaptureItem,
  type CaptureRule,
  type CapturedRow,
  type Manifest,
  type TelemetryWindow,
  type Tensor,
} from '@edgefleet/protocol';
import type { AgentContext, Live } from './context.js';
import type { CaptureDrops, PredictionRecord } from './ports.js';
import { outputProbe, type OutputProbe } from './telemetry-counters.js';
import { topConfidence } from './telemetry-recorder.js';

export interface CaptureOptions {
  /** The device-side switch (agent config `capture.enabled`, default on). */
  enabled: boolean;
  /** Ceiling on any policy's disk budget (agent config `capture.maxDiskBytes`). */
  maxDiskBytes?: number;
  /** Recent uncaptured predictions whose rows are kept in memory for the label-contradiction trigger. */
  recent?: number;
}


export interface Capture {
  readonly enabled: boolean;
  setEnabled(on: boolean): void;
  /** After a prediction of `live` (hot path: returns at once when no rule applies). */
  afterInfer(live: Live, feeds: Record<string, Tensor>, outputs: Record<string, Tensor>, id: string, predicted: number): void;
  /** The shadow disagreed with the active model's prediction `id`. */
  shadowDisagreed(active: Live, feeds: Record<string, Tensor>, outputs: Record<string, Tensor>, id: string, predicted: number): void;
  /** A feedback label arrived for prediction `id` (class `actual`, named `label`). */
  labelled(rec: PredictionRecord, id: string, actual: number, label: string | number): void;
  /**
   * Rows waiting for the outbox with the drops counted since the last take (quota, oversized; the outbox
   * counts disk drops itself), and the disk budget they go under. Null when there is nothing to queue.
   */
  take(): { rows: CaptureItem[]; drops: Omit<CaptureDrops, 'disk'>; diskBytes: number } | null;
  /** What the outbox refused (a full disk): back in front of the queue, bounded. */
  putBack(taken: { rows: CaptureItem[]; drops: Omit<CaptureDrops, 'disk'> }): void;
}

interface Plan {
  rule: CaptureRule;
  manifest: Manifest;
  /** Reference features that go into rows (allow-listed, not redacted) and how to read them (hashing: `finish`). */
  fields: { name: string; source: NonNullable<Manifest['reference']>['features'][number]['source'] }[];
  /** Tail trigger: features and the reference's outer edges. */
  tails: { source: NonNullable<Manifest['reference']>['features'][number]['source']; lo: number; hi: number }[];
  probe: OutputProbe;
  labels: readonly string[];
  /** No drift reference names features: fields are the first row's elements of each input, `input.i`. */
  raw: { allow: Set<string> | null; redact: Set<string> } | null;
}

/** Drafts finished together off the inference path (at most DRAFT_MS after the first), and the most kept unfinished. */
const DRAFT_BATCH = 64;
const DRAFT_MS = 50;
const DRAFTS_MAX = 4 * DRAFT_BATCH;

/** Per model version and window: bytes captured so far (the policy's `windowBytes`). */
interface Quota {
  windowStart: number;
  bytes: number;
}

function planFor(rule: CaptureRule, manifest: Manifest): Plan {
  const redact = new Set(rule.redact);
  const allow = rule.features ? new Set(rule.features) : null;
  const ref = manifest.reference?.features ?? [];
  const tail = new Set(rule.triggers.tail ?? []);
  return {
    rule,
    manifest,
    fields: ref.filter((f) => (allow === null || allow.has(f.name)) && !redact.has(f.name)).map((f) => ({ name: f.name, source: f.source })),
    tails: ref.filter((f) => tail.has(f.name) && f.edges.length > 0).map((f) => ({ source: f.source, lo: f.edges[0]!, hi: f.edges[f.edges.length - 1]! })),
    probe: outputProbe(manifest),
    labels: manifest.labels ?? [],
    raw: ref.length === 0 ? { allow, redact } : null,
  };
}

/** Fields of a model without a drift reference: `input.i` for the first row's numeric elements, the allow-list and redaction applied (hashing: `finish`). */
function rawFields(plan: Plan, feeds: Record<string, Tensor>, out: CapturedRow['features']): void {
  const raw = plan.raw!;
  let n = 0;
  for (const input of plan.manifest.io.inputs) {
    const t = feeds[input.name];
    if (input.name.length > CAPTURE_LIMITS.text - 6) continue; // `name.i` must fit the wire's field names
    if (!t || Array.isArray(t.data) || t.dims.length === 0) continue;
    const rowSize = t.data.length / Math.max(1, t.dims[0]!);
    for (let i = 0; i < rowSize && n < CAPTURE_LIMITS.fields; i++) {
      const name = `${input.name}.${i}`;
      if ((raw.allow !== null && !raw.allow.has(name)) || raw.redact.has(name)) continue;
      const v = Number(t.data[i]);
      out[name] = Number.isFinite(v) ? v : null;
      n++;
    }
  }
}

const firstRow = (source: Plan['fields'][number]['source'], t: Tensor | undefined): number | null => {
  if (!t || Array.isArray(t.data)) return null;
  // the tabular case read in place (no per-call array); anything else as the telemetry window reads it
  if (source.index !== undefined && t.dims.length === 2 && source.index < t.dims[1]! && typeof t.data[0] === 'number') {
    const v = t.data[source.index] as number;
    return Number.isFinite(v) ? v : null;
  }
  return extractFeatureValues(source, t.dims, t.data as ArrayLike<number | bigint>)[0] ?? null;
};

/** UTF-8 length of a string without encoding it. */
function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // 2 bytes below 0x800, 3 up to 0xffff, 4 for a surrogate pair (2 per half)
    if (c >= 0x80) n += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2;
  }
  return n;
}

/**
 * Closed windows as they may leave the device (mutated, before the outbox stores them): a feature the capture
 * policy redacts, hashes or does not allow keeps its drift bins and counts, not its moments (min and max are
 * row values; protocol captureWithheld, withholdMoments).
 */
export function withholdWindows(windows: readonly TelemetryWindow[], rules: readonly CaptureRule[] | undefined): void {
  if (!rules || rules.length === 0) return;
  for (const w of windows) {
    const withheld = captureWithheld(rules, w.model, w.version);
    if (withheld === null) continue;
    for (const name in w.features) if (withheld(name)) withholdMoments(w.features[name]!);
  }
}

export function createCapture(ctx: AgentContext, options: CaptureOptions): Capture {
  const { state, clock } = ctx;
  let enabled = options.enabled;
  const plans = new WeakMap<Live, { rules: readonly CaptureRule[]; plan: Plan | null }>();
  const quotas = new Map<string, Quota>();
  const pending: CaptureItem[] = [];
  const recentMax = options.recent ?? 256;
  const recent = new Map<string, CapturedRow>();
  // ids captured lately: a shadow disagreement on a prediction already captured adds no second row
  const capturedIds = new Set<string>();
  let drops = { quota: 0, oversized: 0 };
  const encoder = new TextEncoder();
  // the plan of the last call's model (one model served: no map lookup per call)
  let lastLive: Live | null = null;
  let lastRules: readonly CaptureRule[] | null = null;
  let lastPlan: Plan | null = null;
  // Items decided on the inference path wait here as drafts (inputs copied, redaction and allow-list applied,
  // hashed fields still their values, in memory only) until `finishDrafts` hashes, serializes and counts them
  // against the byte quota off that path: after DRAFT_MS, as soon as DRAFT_BATCH wait, or when the reporter
  // takes them. In order (a late label never overtakes its row), with the time each was decided.
  const drafts: CaptureItem[] = [];
  const draftRules: CaptureRule[] = [];
  const draftAt: number[] = [];
  let finishTimer: unknown = null;
  let finishSoon = false;

  function planOf(live: Live): Plan | null {
    const rules = state.settings.capture;
    if (!rules || rules.length === 0) return null;
    if (live === lastLive && rules === lastRules) return lastPlan;
    const cached = plans.get(live);
    let plan: Plan | null;
    if (cached && cached.rules === rules) plan = cached.plan;
    else {
      const rule = captureRuleFor(rules, live.name, live.ref.version);
      plan = rule ? planFor(rule, live.manifest) : null;
      plans.set(live, { rules, plan });
    }
    lastLive = live;
    lastRules = rules;
    lastPlan = plan;
    return plan;
  }

  function draft(rule: CaptureRule, item: CaptureItem): void {
    drafts.push(item);
    draftRules.push(rule);
    draftAt.push(clock.now());
    // timers starved (a synchronous burst, a clock that never fires): memory stays bounded, the call pays
    if (drafts.length >= DRAFTS_MAX) finishDrafts();
    else if (drafts.length >= DRAFT_BATCH) {
      if (!finishSoon) schedule(0, true);
    } else if (finishTimer === null) schedule(DRAFT_MS, false);
  }

  function schedule(ms: number, soon: boolean): void {
    if (finishTimer !== null) clock.clearTimeout(finishTimer);
    finishSoon = soon;
    finishTimer = clock.setTimeout(finishDrafts, ms);
  }

  function finishDrafts(): void {
    if (finishTimer !== null) clock.clearTimeout(finishTimer);
    finishTimer = null;
    finishSoon = false;
    for (let i = 0; i < drafts.length; i++) finish(draftRules[i]!, drafts[i]!, draftAt[i]!);
    drafts.length = 0;
    draftRules.length = 0;
    draftAt.length = 0;
  }

  /** A draft as it may leave the device: design §4 capture, a hashed field only as sha256 hex of its value. */
  function finish(rule: CaptureRule, item: CaptureItem, at: number): void {
    if (item.kind === 'row') {
      const f = item.features;
      for (const name of rule.hash) {
        const v = Object.hasOwn(f, name) ? f[name] : undefined;
        if (typeof v === 'number') f[name] = ctx.digestOf(encoder.encode(String(v)));
      }
    }
    queue(rule, item, at);
  }

  function className(plan: Plan, cls: number): string | number {
    return plan.labels[cls] ?? cls;
  }

  function buildRow(plan: Plan, live: Live, feeds: Record<string, Tensor>, outputs: Record<string, Tensor>, id: string, predicted: number, trigger: CapturedRow['trigger']): CapturedRow {
    const features: CapturedRow['features'] = {};
    // design §4 capture: a redacted or unlisted field is never copied; a hashed one is hashed by `finish`
    for (const f of plan.fields) features[f.name] = firstRow(f.source, feeds[f.source.input]);
    if (plan.raw) rawFields(plan, feeds, features);
    let prediction: CapturedRow['prediction'] = null;
    let confidence: number | null = null;
    const probe = plan.probe;
    const out = probe ? outputs[probe.output] : undefined;
    if (probe?.kind === 'classifier' && predicted >= 0) {
      prediction = className(plan, predicted);
      if (!probe.indices && out && !Array.isArray(out.data) && typeof out.data[0] === 'number') {
        const rows = out.dims.length === 0 ? 1 : out.dims[0]!;
        const width = rows > 0 ? out.data.length / rows : 0;
        if (width > 0) confidence = Math.max(0, Math.min(1, topConfidence(out.data as ArrayLike<number>, 0, width)));
      }
    } else if (probe?.kind === 'regressor' && out && !Array.isArray(out.data) && out.data.length > 0) {
      const v = Number(out.data[0]);
      prediction = Number.isFinite(v) ? v : null;
    }
    return { kind: 'row', id: id.slice(0, CAPTURE_LIMITS.text), model: live.name, version: live.ref.version, at: Math.floor(clock.now()), trigger, features, prediction, confidence };
  }

  function queue(rule: CaptureRule, item: CaptureItem, at: number): void {
    const bytes = utf8Length(JSON.stringify(item));
    if (bytes > CAPTURE_LIMITS.rowBytes) {
      drops.oversized++;
      ctx.count('captureOversized');
      return;
    }
    const windowMs = state.settings.windowSeconds * 1000;
    const start = Math.floor(at / windowMs) * windowMs;
    const key = `${item.model}\u0000${item.version}`;
    let q = quotas.get(key);
    if (!q || q.windowStart !== start) quotas.set(key, (q = { windowStart: start, bytes: 0 }));
    if (q.bytes + bytes > rule.windowBytes) {
      drops.quota++;
      ctx.count('captureQuotaDropped');
      return;
    }
    q.bytes += bytes;
    pending.push(item);
    ctx.count(item.kind === 'row' ? 'captured' : 'captureLabels');
  }

  function triggerOf(plan: Plan, feeds: Record<string, Tensor>, outputs: Record<string, Tensor>, predicted: number): CapturedRow['trigger'] | null {
    const t = plan.rule.triggers;
    if (t.lowConfidence !== undefined && plan.probe?.kind === 'classifier' && !plan.probe.indices && predicted >= 0) {
      const out = outputs[plan.probe.output];
      if (out && !Array.isArray(out.data) && typeof out.data[0] === 'number') {
        const rows = out.dims.length === 0 ? 1 : out.dims[0]!;
        const width = rows > 0 ? out.data.length / rows : 0;
        if (width > 0 && topConfidence(out.data as ArrayLike<number>, 0, width) < t.lowConfidence) return 'low-confidence';
      }
    }
    for (const tail of plan.tails) {
      const v = firstRow(tail.source, feeds[tail.source.input]);
      if (v !== null && (v < tail.lo || v >= tail.hi)) return 'tail';
    }
    if (plan.rule.rate > 0 && ctx.random() < plan.rule.rate) return 'sample';
    return null;
  }

  return {
    get enabled() {
      return enabled;
    },
    setEnabled(on) {
      enabled = on;
      if (!on) {
        // off means off: nothing captured before the switch that has not reached the outbox leaves either
        pending.length = 0;
        drafts.length = 0;
        draftRules.length = 0;
        draftAt.length = 0;
        recent.clear();
      }
    },

    afterInfer(live, feeds, outputs, id, predicted) {
      if (!enabled || state.settings.capture === undefined) return;
      const plan = planOf(live);
      if (plan === null || live.role !== 'active') return;
      const trigger = triggerOf(plan, feeds, outputs, predicted);
      if (trigger !== null) {
        draft(plan.rule, buildRow(plan, live, feeds, outputs, id, predicted, trigger));
        if (plan.rule.triggers.shadowDisagreement) {
          capturedIds.add(id);
          if (capturedIds.size > recentMax) capturedIds.delete(capturedIds.values().next().value!);
        }
        return;
      }
      if (plan.rule.triggers.labelContradiction && predicted >= 0) {
        // kept (redacted, not yet hashed) in memory only, bounded: the row is built now, while the inputs exist
        recent.delete(id);
        recent.set(id, buildRow(plan, live, feeds, outputs, id, predicted, 'label-contradiction'));
        if (recent.size > recentMax) recent.delete(recent.keys().next().value!);
      }
    },

    shadowDisagreed(active, feeds, outputs, id, predicted) {
      if (!enabled || state.settings.capture === undefined) return;
      const plan = planOf(active);
      if (plan === null || !plan.rule.triggers.shadowDisagreement || capturedIds.has(id)) return;
      recent.delete(id);
      draft(plan.rule, buildRow(plan, active, feeds, outputs, id, predicted, 'shadow-disagreement'));
    },

    labelled(rec, id, actual, label) {
      if (!enabled || state.settings.capture === undefined || rec.role !== 'active') return;
      const rule = captureRuleFor(state.settings.capture, rec.model, rec.version);
      if (!rule) return;
      const kept = recent.get(id);
      if (kept) {
        recent.delete(id);
        if (actual !== rec.predicted) {
          draft(rule, { ...kept, label, at: kept.at });
          return;
        }
      }
      // design §6 late labels: joined to a captured row by prediction id at the hub (no row there: ignored)
      draft(rule, { kind: 'label', id: id.slice(0, CAPTURE_LIMITS.text), model: rec.model, version: rec.version, at: Math.floor(clock.now()), label });
    },

    take() {
      finishDrafts();
      if (pending.length === 0 && drops.quota + drops.oversized === 0) return null;
      const rows = pending.splice(0, pending.length);
      const taken = drops;
      drops = { quota: 0, oversized: 0 };
      // one budget for the device's whole capture outbox: the largest a rule asks for, capped by the device
      const budgets = (state.settings.capture ?? []).map((r) => r.diskBytes);
      let diskBytes = budgets.length > 0 ? Math.max(...budgets) : 0;
      if (options.maxDiskBytes !== undefined) diskBytes = Math.min(diskBytes, options.maxDiskBytes);
      return { rows, drops: taken, diskBytes };
    },
    putBack(taken) {
      pending.unshift(...taken.rows);
      drops.quota += taken.drops.quota;
      drops.oversized += taken.drops.oversized;
      // in memory while the store refuses (a full disk): bounded, oldest dropped first (counted as quota drops)
      const over = pending.length - CAPTURE_LIMITS.rowsPerBatch * 4;
      if (over > 0) {
        pending.splice(0, over);
        drops.quota += over;
      }
    },
  };
}
