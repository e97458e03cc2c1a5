// Capture policies in desired states (design §4 capture): the telemetry settings one device's desired state
// carries are the hub's own (`hub start --capture`, the defaults) with the rules an operator set at run time
// for the model versions the device is assigned put first — the agent applies the first rule that matches,
// so a version's policy overrides a default for its model. Pure, but for `loadCapturePolicies`.

import { CAPTURE_LIMITS, CaptureRule, TelemetrySettings } from '@edgefleet/protocol';
import type { HubContext } from '../context.js';
import type { Assignment } from './assignments.js';

/** The stored policies, by `model@version`. */
export type CapturePolicies = ReadonlyMap<string, CaptureRule>;

export const policyKey = (model: string, version: string): string => `${model}@${version}`;

/** Reads every stored policy; one that no longer parses (stored by a newer hub) is skipped and logged. */
export async function loadCapturePolicies(ctx: Pick<HubContext, 'store' | 'log'>): Promise<CapturePolicies> {
  const out = new Map<string, CaptureRule>();
  for (const row of await ctx.store.capturePolicies.list()) {
    const r = CaptureRule.safeParse({ ...(JSON.parse(row.rule) as object), model: row.model, version: row.version });
    if (r.success) out.set(policyKey(row.model, row.version), r.data);
    else ctx.log(`capture policy ${policyKey(row.model, row.version)} ignored: ${r.error.issues[0]?.message ?? 'invalid'}`);
  }
  return out;
}

/** The telemetry settings of one device's desired state: undefined when neither the hub nor a policy sets any. */
export function telemetryFor(base: TelemetrySettings | undefined, assignments: readonly Assignment[], policies: CapturePolicies): TelemetrySettings | undefined {
  const own: CaptureRule[] = [];
  for (const a of assignments) {
    const rule = policies.get(policyKey(a.model, a.version));
    if (rule && !own.includes(rule)) own.push(rule);
  }
  if (own.length === 0) return base;
  // a device's rules stay within the protocol's bound: its own policies first, then as many defaults as fit
  const capture = [...own, ...(base?.capture ?? [])].slice(0, CAPTURE_LIMITS.rules);
  return TelemetrySettings.parse({ ...base, capture });
}
