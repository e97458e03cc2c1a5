// What the hub refuses in a telemetry batch beyond its schema (design §4, §6): checks that need the hub's
// clock, its retention and the model versions it knows. The schema (protocol) bounds every size and index;
// this bounds times and makes sure every accepted window can merge with the others of its rollup.

import { HISTOGRAM_DEFAULT_ALPHA, windowTimeIssue, type Manifest, type TelemetryBatch } from '@edgefleet/protocol';
import type { Store } from '../store/db.js';

/** The bin layout a model version's windows carry (its manifest's drift reference, design §6). */
export interface WindowLayout {
  /** Bins per monitored feature: the reference's edges + 1. */
  features: ReadonlyMap<string, number>;
  /** Regressor output bins, or null when the model has none. */
  valueBins: number | null;
}

export function layoutOf(manifest: Manifest): WindowLayout {
  const out = manifest.reference?.output;
  return {
    features: new Map((manifest.reference?.features ?? []).map((f) => [f.name, f.edges.length + 1])),
    valueBins: out?.kind === 'regressor' ? out.edges.length + 1 : null,
  };
}

/**
 * Why the hub refuses a batch the schema accepts, or null: a window outside the clock bounds of `now`
 * (protocol telemetry/bounds.ts windowTimeIssue: ahead by more than the skew, or older than `maxAgeMs`); a
 * histogram of another accuracy than the fleet's; or, for a model version the hub knows (`layout`), a
 * feature or output bin layout other than its manifest's. Each would make every later window of that rollup
 * minute unmergeable (design §6: summaries merge by addition), so one device could shut the others out.
 */
export function batchIssue(
  batch: TelemetryBatch,
  now: number,
  maxAgeMs: number,
  layout: (model: string, version: string) => WindowLayout | null = () => null,
): string | null {
  for (const w of batch.windows) {
    const time = windowTimeIssue(w, now, maxAgeMs);
    if (time !== null) return time;
    if (w.latencyMs.alpha !== HISTOGRAM_DEFAULT_ALPHA || (w.shadow && w.shadow.latencyMs.alpha !== HISTOGRAM_DEFAULT_ALPHA)) {
      return `histogram alpha must be ${HISTOGRAM_DEFAULT_ALPHA}`;
    }
    const l = layout(w.model, w.version);
    if (!l) continue;
    for (const [name, f] of Object.entries(w.features)) {
      if (l.features.get(name) !== f.bins.length) return `feature ${JSON.stringify(name)} is not binned as ${w.model}@${w.version}'s reference`;
    }
    const vb = w.outputs?.valueBins;
    if (vb !== undefined && vb.length !== l.valueBins) return `output value bins are not ${w.model}@${w.version}'s reference bins`;
  }
  return null;
}

export interface TelemetryPolicyOptions {
  /** Oldest window accepted, ms before now: the raw retention. */
  maxWindowAgeMs: number;
}

export interface TelemetryPolicy {
  /** batchIssue against the model versions in the store. */
  issue(batch: TelemetryBatch, now: number): Promise<string | null>;
  /** The same from what is cached, or undefined when a model version has to be read first (then: issue). */
  issueNow(batch: TelemetryBatch, now: number): string | null | undefined;
  /** Whether the store had this model version when `issue` last looked (a cache read, no I/O). */
  registered(model: string, version: string): boolean;
}

export function createTelemetryPolicy(store: Store, options: TelemetryPolicyOptions): TelemetryPolicy {
  // per model version: its manifest's layout (versions are immutable), or null while the hub does not know
  // it — looked up again after a few seconds, as it may be pushed later
  const layouts = new Map<string, { layout: WindowLayout | null; at: number }>();
  // released on any replica: its layout is read at once, not after the 5 s of a cached "unknown"
  store.changes.subscribe('model', (key) => (key === null ? layouts.clear() : layouts.delete(key)));
  const fresh = (key: string, t: number) => {
    const hit = layouts.get(key);
    return hit !== undefined && (hit.layout !== null || t - hit.at < 5_000);
  };
  const load = async (model: string, version: string, t: number): Promise<void> => {
    const row = await store.getModelVersion(model, version);
    const l = row ? layoutOf(JSON.parse(row.manifest) as Manifest) : null;
    if (layouts.size > 10_000) layouts.clear();
    layouts.set(`${model}@${version}`, { layout: l, at: t });
  };
  const cached = (model: string, version: string) => layouts.get(`${model}@${version}`)?.layout ?? null;
  return {
    async issue(batch, now) {
      const t = Date.now();
      for (const w of batch.windows) if (!fresh(`${w.model}@${w.version}`, t)) await load(w.model, w.version, t);
      return batchIssue(batch, now, options.maxWindowAgeMs, cached);
    },
    issueNow(batch, now) {
      const t = Date.now();
      for (const w of batch.windows) if (!fresh(`${w.model}@${w.version}`, t)) return undefined;
      return batchIssue(batch, now, options.maxWindowAgeMs, cached);
    },
    registered: (model, version) => Boolean(layouts.get(`${model}@${version}`)?.layout),
  };
}
