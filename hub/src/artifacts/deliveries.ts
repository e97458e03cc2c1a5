// What the hub knows a device holds (design §3, §7): per device and artifact, the chunks it has asked the
// hub for, persisted, and whether its own telemetry names a model version. The rollout engine counts a
// device converged on a version only when its reported claim is consistent with one of them, so a device
// cannot report a version it never fetched and be counted (see rollout-runner.ts).

import { TELEMETRY_LIMITS } from '@edgefleet/protocol';
import type { HubContext } from '../context.js';
import type { DeviceObservation, RolloutSpec, RolloutState } from '../rollouts/index.js';
import type { Store } from '../store/db.js';

export interface Deliveries {
  /**
   * A device asked for these chunks of an artifact of `count` chunks (chunk server, after its checks), while
   * listening on the artifact's multicast topic or not.
   */
  requested(deviceId: string, sha256: string, chunks: readonly number[], count: number, multicast: boolean): void;
  /**
   * The device fetched the artifact from the hub (over all hub restarts): it asked for every chunk at least
   * once, or asked while listening on the multicast topic (which brings chunks it never needs to ask for).
   */
  fetched(deviceId: string, sha256: string): boolean;
  /** The device's own telemetry names this version and role in a window ending after `since` (epoch ms). */
  reportedIn(deviceId: string, model: string, version: string, role: 'active' | 'shadow', since: number): boolean;
}

export function createDeliveries(store: Store): Deliveries {
  const db = store.db;
  const st = {
    get: db.prepare<[string, string], { requested: Buffer; complete: number }>('SELECT requested, complete FROM artifact_fetches WHERE device_id = ? AND sha256 = ?'),
    put: db.prepare(
      `INSERT INTO artifact_fetches (device_id, sha256, requested, complete) VALUES (?, ?, ?, ?)
       ON CONFLICT (device_id, sha256) DO UPDATE SET requested = excluded.requested, complete = excluded.complete`,
    ),
    // windows are at most TELEMETRY_LIMITS.spanMs long: the (model, version, start) index bounds the scan
    reported: db.prepare<[string, string, number, number, string, string], { n: number }>(
      'SELECT 1 AS n FROM telemetry_windows WHERE model = ? AND version = ? AND start >= ? AND end > ? AND role = ? AND device_id = ? LIMIT 1',
    ),
  };
  // bitmaps of fetches in progress (complete ones are one flag in the table); dropped when large, reloaded on use
  const open = new Map<string, { bits: Uint8Array; complete: boolean }>();
  const load = (deviceId: string, sha256: string, count: number) => {
    const key = `${deviceId}\u0000${sha256}`;
    let e = open.get(key);
    if (!e) {
      const row = st.get.get(deviceId, sha256);
      const bits = new Uint8Array(Math.ceil(count / 8));
      if (row) bits.set(row.requested.subarray(0, bits.length));
      e = { bits, complete: row?.complete === 1 };
      if (open.size > 10_000) open.clear();
      open.set(key, e);
    }
    return e;
  };
  return {
    requested(deviceId, sha256, chunks, count, multicast) {
      const e = load(deviceId, sha256, count);
      if (e.complete) return;
      if (multicast) {
        e.complete = true;
        st.put.run(deviceId, sha256, Buffer.from(e.bits), 1);
        return;
      }
      let changed = false;
      for (const i of chunks) {
        if (i < 0 || i >= count) continue; // the chunk server refused these already
        const bit = 1 << (i & 7);
        if (!(e.bits[i >> 3]! & bit)) (e.bits[i >> 3]! |= bit), (changed = true);
      }
      if (!changed) return;
      let have = 0;
      for (let i = 0; i < count; i++) if (e.bits[i >> 3]! & (1 << (i & 7))) have++;
      e.complete = have === count;
      st.put.run(deviceId, sha256, Buffer.from(e.bits), e.complete ? 1 : 0);
    },
    fetched(deviceId, sha256) {
      const key = `${deviceId}\u0000${sha256}`;
      const e = open.get(key);
      if (e) return e.complete;
      return st.get.get(deviceId, sha256)?.complete === 1;
    },
    reportedIn(deviceId, model, version, role, since) {
      return st.reported.get(model, version, since - TELEMETRY_LIMITS.spanMs, since, role, deviceId) !== undefined;
    },
  };
}

export interface ClaimCheck {
  /**
   * design §7: a device converges on what it runs, and the hub believes a reported version only when it is
   * consistent with what the hub knows — the device fetched that artifact (`sha`) from the hub, or its
   * telemetry since the send names the version (an artifact from a CDN, or installed before these records).
   * An unbacked claim is hidden from the engine in `o` (the device stays pending) and, past the grace period,
   * reported once: an `error` event with code CONFLICT on the device and edgefleet_unbacked_claims_total.
   */
  check(spec: RolloutSpec, state: RolloutState, sha: string | undefined, deviceId: string, o: DeviceObservation, now: number): void;
}

export function createClaimCheck(ctx: HubContext, deliveries: Deliveries, graceMs = 300_000): ClaimCheck {
  // backed claims stay backed (fetches and telemetry are history); unbacked ones by rollout and device
  const backed = new Set<string>();
  const unbacked = new Map<string, { since: number; reported: boolean }>();
  return {
    check(spec, state, sha, id, o, now) {
      const record = state.devices[id];
      if (!record || record.sent === 'previous') return;
      const claimed = state.role === 'shadow' ? o.shadowVersion : o.activeVersion;
      if (claimed !== spec.version) return;
      const key = `${spec.id}\u0000${id}`;
      if (backed.has(key)) return;
      if ((sha !== undefined && deliveries.fetched(id, sha)) || deliveries.reportedIn(id, spec.model, spec.version, state.role, record.sentAt)) {
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
      ctx.metrics.inc('edgefleet_unbacked_claims_total', { model: spec.model });
      ctx.store.insertEvent({
        deviceId: id,
        type: 'error',
        model: spec.model,
        version: spec.version,
        code: 'CONFLICT',
        message: `reports ${spec.model}@${spec.version} ${state.role}, but never fetched its artifact from the hub and sent no telemetry for it: not counted as converged (rollout ${spec.id})`,
        at: new Date(now).toISOString(),
        receivedAt: now,
      });
      ctx.log(`rollout ${spec.id}: ${id} reports ${spec.model}@${spec.version} without fetching it; not counted as converged`);
    },
  };
}
