// Assignments (design §3, §7): which model versions, in which role, a device should run, derived from every
// rollout whose target set includes it. Pure: the desired state issued for the device follows from these.

import type { DeviceRow, RolloutRow, RolloutTargets } from '../store/db.js';

/**
 * What assignments read of a gated rollout's persisted engine state (the engine's RolloutState has this
 * shape): the role it sends in and, per device, what it sent last. Declared here so that desired/ does not
 * import the rollout engine that drives it.
 */
export interface EngineSends {
  role: 'active' | 'shadow';
  devices: Record<string, { sent: 'active' | 'shadow' | 'previous' }>;
}

/** Whether a device is in a rollout's target set: `all`, any tag map (all pairs match), or listed by id. */
export function deviceMatches(targets: RolloutTargets, device: Pick<DeviceRow, 'id' | 'tags'>): boolean {
  if (targets.all) return true;
  if (targets.devices?.includes(device.id)) return true;
  return (targets.tags ?? []).some((want) => Object.entries(want).every(([k, v]) => device.tags[k] === v));
}

/** Rollout statuses whose target devices should run the version. */
const EFFECTIVE = new Set(['active', 'completed']);

export interface Assignment {
  model: string;
  version: string;
  role: 'active' | 'shadow';
  rolloutId: string;
}

/**
 * Pure: the models a device should run, from all rollouts (latest per model and role wins). A gated
 * rollout counts for a device only once its engine has sent it there (in the role sent: shadow until
 * promoted) — or, once completed, to every device in its target set — not after its wave was rolled back, and never after an abort — so the device falls back
 * to the rollout before it, which is how "send the previous version" is expressed (design §3 downgrade).
 * Superseded and rolled-back rollouts still count for the devices they reached until a newer one does.
 */
export function assignmentsFor(device: Pick<DeviceRow, 'id' | 'tags'>, rollouts: readonly RolloutRow[]): Assignment[] {
  const byKey = new Map<string, Assignment>();
  for (const r of [...rollouts].sort((a, b) => a.seq - b.seq)) {
    if (!deviceMatches(r.targets, device)) continue;
    let role = r.role;
    if (r.state) {
      if (r.status === 'aborted') continue;
      const state = r.state as EngineSends;
      const sent = state.devices[device.id]?.sent;
      if (sent === 'previous') continue;
      if (sent === undefined) {
        // design §7: after completion, devices joining the target set converge to the rolled-out
        // version at once (the engine records them on its next tick; same assignment, no new sequence)
        if (r.status !== 'completed') continue;
        role = state.role;
      } else role = sent;
    } else if (!EFFECTIVE.has(r.status)) continue;
    byKey.set(`${r.model}\u0000${role}`, { model: r.model, version: r.version, role, rolloutId: r.id });
  }
  // a shadow of the version that is already active is pointless
  const out = [...byKey.values()].filter(
    (a) => a.role === 'active' || byKey.get(`${a.model}\u0000active`)?.version !== a.version,
  );
  return out.sort((a, b) => (a.model === b.model ? a.role.localeCompare(b.role) : a.model.localeCompare(b.model)));
}
