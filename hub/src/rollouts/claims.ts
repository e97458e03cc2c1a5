// Claim checks (design §7): a device converges on what it runs, and the hub believes a reported version only
// when it is consistent with what the hub knows of the device's fetches and telemetry (artifacts/ Deliveries).
// No I/O of its own: it asks the Deliveries it is given and hands an unbacked claim to `onUnbacked`.

import type { Deliveries } from '../artifacts/index.js';
import type { DeviceObservation, RolloutSpec, RolloutState } from './spec.js';

export interface ClaimCheck {
  /**
   * design §7: a device converges on what it runs, and the hub believes a reported version only when it is
   * consistent with what the hub knows — the device fetched that artifact (`sha`) from the hub, or its
   * telemetry since the send names the version (an artifact from a CDN, or installed before these records).
   * An unbacked claim is hidden from the engine in `o` (the device stays pending) and, past the grace period,
   * reported once through `onUnbacked` (the runner: an `error` event with code CONFLICT on the device and
   * edgefleet_unbacked_claims_total).
   */
  check(spec: RolloutSpec, state: RolloutState, sha: string | undefined, deviceId: string, o: DeviceObservation, now: number): Promise<void>;
}

export interface ClaimCheckOptions {
  /** How long a claim may stay unbacked before it is reported (default 5 min). */
  graceMs?: number | undefined;
  /** Called once per rollout and device whose claim stayed unbacked past the grace period. */
  onUnbacked: (spec: RolloutSpec, state: RolloutState, deviceId: string, now: number) => void;
}

export function createClaimCheck(deliveries: Deliveries, options: ClaimCheckOptions): ClaimCheck {
  const graceMs = options.graceMs ?? 300_000;
  // backed claims stay backed (fetches and telemetry are history); unbacked ones by rollout and device
  const backed = new Set<string>();
  const unbacked = new Map<string, { since: number; reported: boolean }>();
  return {
    async check(spec, state, sha, id, o, now) {
      const record = state.devices[id];
      if (!record || record.sent === 'previous') return;
      const claimed = state.role === 'shadow' ? o.shadowVersion : o.activeVersion;
      if (claimed !== spec.version) return;
      const key = `${spec.id}\u0000${id}`;
      if (backed.has(key)) return;
      if ((sha !== undefined && (await deliveries.fetched(id, sha))) || (await deliveries.reportedIn(id, spec.model, spec.version, state.role, record.sentAt))) {
        backed.add(key);
        unbacked.delete(key);
        return;
      }
      if (state.role === 'shadow') o.shadowVersion = null;
      else o.activeVersion = null;
      let u = unbacked.get(key);
      if (!u) unbacked.set(key, (u = { since: now, reported: false }));
      if (u.reported || now - u.since < graceMs) return;
      u.reported = true;
      options.onUnbacked(spec, state, id, now);
    },
  };
}
