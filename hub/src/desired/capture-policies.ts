// Capture policies in desired states (design §4 capture): the telemetry settings one device's desired state
// carries are the hub's own (`hub start --capture`, the defaults) with the rules an operator set at run time
// put first — a rollout's own (`rollout start --capture`) for the devices it assigned, else the policy of the
// assigned model version — the agent applies the first rule that matches, so these override a default for
// their model. Pure, but for `loadCapturePolicies`.

import { CAPTURE_LIMITS, CaptureRule, TelemetrySettings } from '@edgefleet/protocol';
import type { HubContext } from '../context.js';
import type { RolloutRow } from '../store/db.js';
import type { Assignment } from './assignments.js';

/**
 * A capture rule without model and version, which its place names (the API path, the rollout). Unknown fields
 * are refused: a misspelt trigger must not silently capture nothing.
 */
export const CapturePolicyRule = CaptureRule.omit({ model: true, version: true }).strict();

/** The policies a pass of issuing reads: by `model@version`, and by rollout id. */
export interface CapturePolicies {
  versions: ReadonlyMap<string, CaptureRule>;
  rollouts: ReadonlyMap<string, CaptureRule>;
}

export const policyKey = (model: string, version: string): string => `${model}@${version}`;

/** Reads every stored policy and the rollouts' own; one that no longer parses (stored by a newer hub) is skipped and logged. */
export async function loadCapturePolicies(ctx: Pick<HubContext, 'store' | 'log'>, rollouts: readonly RolloutRow[]): Promise<CapturePolicies> {
  const versions = new Map<string, CaptureRule>();
  const parse = (what: string, raw: unknown, model: string, version: string): CaptureRule | undefined => {
    const r = CaptureRule.safeParse({ ...(raw as object), model, version });
    if (!r.success) ctx.log(`capture policy of ${what} ignored: ${r.error.issues[0]?.message ?? 'invalid'}`);
    return r.success ? r.data : undefined;
  };
  for (const row of await ctx.store.capturePolicies.list()) {
    const rule = parse(policyKey(row.model, row.version), JSON.parse(row.rule), row.model, row.version);
    if (rule) versions.set(policyKey(row.model, row.version), rule);
  }
  const own = new Map<string, CaptureRule>();
  for (const r of rollouts) {
    if (r.options.capture === undefined) continue;
    const rule = parse(`rollout ${r.id}`, r.options.capture, r.model, r.version);
    if (rule) own.set(r.id, rule);
  }
  return { versions, rollouts: own };
}

/** The telemetry settings of one device's desired state: undefined when neither the hub nor a policy sets any. */
export function telemetryFor(base: TelemetrySettings | undefined, assignments: readonly Assignment[], policies: CapturePolicies): TelemetrySettings | undefined {
  const own: CaptureRule[] = [];
  for (const a of assignments) {
    const rule = policies.rollouts.get(a.rolloutId) ?? policies.versions.get(policyKey(a.model, a.version));
    if (rule && !own.includes(rule)) own.push(rule);
  }
  if (own.length === 0) return base;
  // a device's rules stay within the protocol's bound: its own policies first, then as many defaults as fit
  const capture = [...own, ...(base?.capture ?? [])].slice(0, CAPTURE_LIMITS.rules);
  return TelemetrySettings.parse({ ...base, capture });
}
