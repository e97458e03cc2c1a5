// The words of a drift alarm (design §6, §7), pure: one text for the webhook, the audit log, the overview and
// the CLI. drift-alarm.ts finds what they describe.

import type { Manifest } from '@edgefleet/protocol';

/** The open-alarm key of one drifted feature of one version (raised once until it clears). */
export const driftAlarmKey = (model: string, version: string, feature: string): string => `drift:${model}@${version}:${feature}`;

/** A type, not an interface: part of a webhook payload (a plain record). */
export type DriftMessageParts = {
  model: string;
  version: string;
  feature: string;
  statistic: 'PSI';
  /** The statistic within the scope, and its threshold at that sample size. */
  value: number;
  threshold: number | null;
  /** The tag group that drifted, or null for the whole version. */
  scope: Record<string, string> | null;
  /** This feature's share (0..1) of the version's permutation importance, when the manifest has one. */
  importanceShare: number | null;
};

const p2 = (x: number | null): string => (x === null ? '–' : x.toPrecision(2));

/** "site b", "site b, line 2": how a tag group reads in a sentence. */
export function scopeText(tags: Record<string, string> | null, model: string, version: string): string {
  if (tags === null) return `${model}@${version}`;
  return Object.entries(tags)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

/** The alarm's one-line message. */
export function driftAlarmMessage(d: DriftMessageParts): string {
  const where = scopeText(d.scope, d.model, d.version);
  const on = d.scope === null ? '' : ` (${d.model}@${d.version})`;
  const share = d.importanceShare === null ? '' : `; ${d.feature} carries ${Math.round(d.importanceShare * 100)} % of this model's importance`;
  return `${where}: ${d.feature} ${d.statistic} ${p2(d.value)} > ${p2(d.threshold)}${on}${share}`;
}

/** The feature's share of the manifest's permutation importance, or null. */
export function importanceShare(manifest: Manifest, feature: string): number | null {
  return manifest.lineage?.importance?.features.find((f) => f.name === feature)?.share ?? null;
}

