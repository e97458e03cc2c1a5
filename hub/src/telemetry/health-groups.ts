// One model version's health sliced by a device tag (site, region, hardware) or per device (design §6, §7):
// its raw windows read once, one merge per group (merge.ts), each summarized as the health API's totals,
// drift and accuracy are — the same statistics, so a group row and `GET /health?tag=k=v` cannot disagree.

import type { HubContext } from '../context.js';
import { parseStoredWindow } from './fast-check.js';
import { accuracyOf, driftOf, manifestOf, type FeatureDrift, type HealthReport } from './health.js';
import { createHealthMerge, summarizeHealth, type HealthMerge, type HealthSummary } from './merge.js';

export interface HealthGroupsQuery {
  model: string;
  version: string;
  /** A tag key: one group per value (devices without the tag form the `null` group); absent: one group per device. */
  by: string | null;
  /** Only devices with these tags. */
  tags?: Record<string, string>;
  role?: 'active' | 'shadow';
  from: number;
  to: number;
}

export interface GroupHealth extends HealthSummary {
  /** The tag value (or device id) of this group; null for the devices without the tag. */
  value: string | null;
  /** Devices whose windows merged into this group. */
  devices: number;
  /** The feature most drifted (the highest PSI over its threshold, drifted ones first), how many drifted of how many. */
  drift: { worst: FeatureDrift | null; drifted: number; features: number; text: string };
  accuracy: HealthReport['accuracy'];
}

export interface HealthGroups {
  model: string;
  version: string;
  by: string | null;
  from: number;
  to: number;
  groups: GroupHealth[];
}

/** Drifted features first, then by PSI relative to its threshold: the one a reader should look at. */
export function worstDrift(drift: readonly FeatureDrift[]): GroupHealth['drift'] {
  const judged = drift.filter((d) => d.n > 0);
  const score = (d: FeatureDrift) => (d.verdict === 'drift' ? 1e9 : 0) + (d.critical ? d.psi / d.critical : d.psi);
  const worst = judged.reduce<FeatureDrift | null>((w, d) => (w === null || score(d) > score(w) ? d : w), null);
  const drifted = drift.filter((d) => d.verdict === 'drift').length;
  return { worst, drifted, features: drift.length, text: driftText(worst, drifted, drift.length) };
}

const p2 = (x: number | null) => (x === null ? '–' : x.toPrecision(2));

/** The words the dashboard and the CLI show for a group's drift (one vocabulary, made here once). */
function driftText(worst: FeatureDrift | null, drifted: number, features: number): string {
  if (features === 0) return 'no drift reference';
  if (!worst || worst.verdict === 'insufficient-data') return 'too little data';
  if (worst.verdict === 'drift') return `${worst.feature} drifted (PSI ${p2(worst.psi)} > ${p2(worst.critical)}), ${drifted} of ${features} features`;
  // the feature closest to its threshold, with both: how far from drifting the group is
  return `stable (${worst.feature} PSI ${p2(worst.psi)} ≤ ${p2(worst.critical)})`;
}

export async function computeHealthGroups(ctx: HubContext, q: HealthGroupsQuery): Promise<HealthGroups> {
  const reference = (await manifestOf(ctx, q.model, q.version)).reference;
  const rows = await ctx.store.telemetry.rawWindows({ model: q.model, version: q.version, from: q.from, to: q.to, ...(q.role ? { role: q.role } : {}), ...(q.tags ? { tags: q.tags } : {}) });
  const by = q.by;
  let groupOf = (device: string): string | null => device;
  if (by !== null) {
    const ids = [...new Set(rows.map((r) => r.device))];
    const tags = new Map((await ctx.store.devicesByIds(ids)).map((d) => [d.id, d.tags]));
    groupOf = (device) => {
      const t = tags.get(device);
      return t && Object.hasOwn(t, by) ? t[by]! : null;
    };
  }
  const merges = new Map<string | null, HealthMerge>();
  for (const r of rows) {
    const w = parseStoredWindow(r.body); // left out when this hub could not have written it
    if (!w) continue;
    const g = groupOf(r.device);
    let m = merges.get(g);
    if (!m) merges.set(g, (m = createHealthMerge()));
    m.add(r.device, w);
  }
  const groups = [...merges.entries()].map(([value, m]): GroupHealth => {
    const h = m.result();
    return { value, devices: h.devices, ...summarizeHealth(h), drift: worstDrift(driftOf(reference, h)), accuracy: accuracyOf(h) };
  });
  // tag values in natural order (site-2 before site-10), the untagged last
  groups.sort((a, b) => (a.value === null ? 1 : b.value === null ? -1 : a.value.localeCompare(b.value, 'en', { numeric: true })));
  return { model: q.model, version: q.version, by, from: q.from, to: q.to, groups };
}

/** Tag keys with their values and how many devices carry each (the group-by choices). */
export interface TagIndex {
  tags: Array<{ key: string; values: Array<{ value: string; devices: number }> }>;
}

export async function tagIndex(ctx: HubContext): Promise<TagIndex> {
  const keys = new Map<string, Map<string, number>>();
  for (const r of await ctx.store.fleet.deviceTags()) {
    for (const [k, v] of Object.entries(JSON.parse(r.tags) as Record<string, string>)) {
      let values = keys.get(k);
      if (!values) keys.set(k, (values = new Map()));
      values.set(v, (values.get(v) ?? 0) + 1);
    }
  }
  const natural = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });
  return {
    tags: [...keys.entries()]
      .sort((a, b) => natural(a[0], b[0]))
      .map(([key, values]) => ({ key, values: [...values.entries()].sort((a, b) => natural(a[0], b[0])).map(([value, devices]) => ({ value, devices })) })),
  };
}
