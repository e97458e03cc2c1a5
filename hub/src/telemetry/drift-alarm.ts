// What a drift alarm says (design §6, §7): where the drift is (the tag group that drifted, else the version),
// which feature, the statistic against its sample-size-aware threshold, and how much the model relies on that
// feature (the permutation importance its manifest carries). One text for the webhook, the audit log and
// the dashboard: "site b: features.temperature PSI 0.78 > 0.08 (pump@2.0.0); features.temperature carries
// 31 % of this model's importance".
//
// Scope: a version-wide drift is looked for in each tag group (key=value) of the fleet's devices; when some
// groups of one key drift and another group of that key has enough data and does not, the worst drifted
// group (PSI over its threshold) is the scope. Keys with more than SCOPE_LIMITS.values values (ids, serials)
// are not groups; at most SCOPE_LIMITS.keys keys are tried. Else, when the version's latest rollout targeted
// one tag group only (`--tag site=b`), that group is where it runs and drifted. Otherwise the version.

import type { Manifest } from '@edgefleet/protocol';
import type { HubContext } from '../context.js';
import { computeHealth, type FeatureDrift } from './health.js';
import { driftAlarmMessage, importanceShare, type DriftMessageParts } from './drift-text.js';

export const SCOPE_LIMITS = { keys: 8, values: 32 } as const;

export interface DriftScope {
  /** The drifted tag group. */
  tags: Record<string, string>;
  /** The drift statistics within that scope. */
  drift: FeatureDrift;
}

/** A type, not an interface: it is a webhook payload (a plain record). */
export type DriftAlarmDetails = DriftMessageParts & {
  /** Version-wide statistics (what raised the alarm). */
  psi: number;
  js: number;
  ks: number;
  critical: number | null;
  n: number;
  from: string;
  to: string;
  message: string;
};

/** The tag group in which `feature` drifted while a sibling group did not, worst first; null for version-wide drift. */
export async function driftScope(ctx: HubContext, q: { model: string; version: string; feature: string; from: number; to: number; bucketMs: number }): Promise<DriftScope | null> {
  const values = new Map<string, Set<string>>();
  for (const d of await ctx.store.listDevices()) {
    for (const [k, v] of Object.entries(d.tags)) {
      const set = values.get(k) ?? new Set<string>();
      set.add(v);
      values.set(k, set);
    }
  }
  const keys = [...values.entries()].filter(([, vs]) => vs.size >= 2 && vs.size <= SCOPE_LIMITS.values).slice(0, SCOPE_LIMITS.keys);
  let best: (DriftScope & { score: number }) | null = null;
  for (const [key, vs] of keys) {
    const drifted: Array<{ value: string; d: FeatureDrift }> = [];
    let stable = false;
    for (const value of [...vs].sort()) {
      const h = await computeHealth(ctx, { model: q.model, version: q.version, tags: { [key]: value }, from: q.from, to: q.to, bucketMs: q.bucketMs });
      const d = h.drift.find((x) => x.feature === q.feature);
      if (d?.verdict === 'drift') drifted.push({ value, d });
      else if (d?.verdict === 'no-drift') stable = true;
    }
    if (!stable) continue; // every group with data drifted (or none had enough): the version is the scope
    for (const { value, d } of drifted) {
      const score = d.critical ? d.psi / d.critical : d.psi;
      if (best === null || score > best.score) best = { tags: { [key]: value }, drift: d, score };
    }
  }
  return best === null ? null : { tags: best.tags, drift: best.drift };
}

/** The one tag group the version's latest active rollout targeted, or null (all devices, a device list, several groups). */
async function rolloutScope(ctx: HubContext, model: string, version: string): Promise<Record<string, string> | null> {
  const latest = (await ctx.store.listRollouts()).filter((r) => r.model === model && r.version === version && r.role === 'active').pop();
  const t = latest?.targets;
  if (!t || t.all || (t.devices?.length ?? 0) > 0 || t.tags?.length !== 1) return null;
  const only = t.tags[0]!;
  return Object.keys(only).length > 0 ? only : null;
}

/** Everything a raised drift alarm carries, for one drifted feature of one version. */
export async function driftAlarmDetails(
  ctx: HubContext,
  manifest: Manifest,
  d: FeatureDrift,
  range: { from: number; to: number; bucketMs: number },
): Promise<DriftAlarmDetails> {
  const { model, version } = manifest;
  const scope = await driftScope(ctx, { model, version, feature: d.feature, ...range });
  const value = scope?.drift.psi ?? d.psi;
  const threshold = scope ? scope.drift.critical : d.critical;
  const tags = scope?.tags ?? (await rolloutScope(ctx, model, version));
  const details: Omit<DriftAlarmDetails, 'message'> = {
    model,
    version,
    feature: d.feature,
    statistic: 'PSI',
    value,
    threshold,
    psi: d.psi,
    js: d.js,
    ks: d.ks,
    critical: d.critical,
    n: d.n,
    scope: tags,
    importanceShare: importanceShare(manifest, d.feature),
    from: new Date(range.from).toISOString(),
    to: new Date(range.to - 1).toISOString(),
  };
  return { ...details, message: driftAlarmMessage(details) };
}
