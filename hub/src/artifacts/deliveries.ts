// What the hub knows a device holds (design §3, §7): per device and artifact, the chunks it has asked the
// hub for, persisted (store/deliveries.ts), and whether its own telemetry names a model version. The rollout
// engine counts a device converged on a version only when its reported claim is consistent with one of them,
// so a device cannot report a version it never fetched and be counted (see rollouts/claims.ts).

import { TELEMETRY_LIMITS } from '@edgefleet/protocol';
import type { DeliveryRecords } from '../store/deliveries.js';

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

export function createDeliveries(records: DeliveryRecords): Deliveries {
  // bitmaps of fetches in progress (complete ones are one flag in the table); dropped when large, reloaded on use
  const open = new Map<string, { bits: Uint8Array; complete: boolean }>();
  const load = (deviceId: string, sha256: string, count: number) => {
    const key = `${deviceId}\u0000${sha256}`;
    let e = open.get(key);
    if (!e) {
      const row = records.getFetch(deviceId, sha256);
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
        records.putFetch(deviceId, sha256, Buffer.from(e.bits), 1);
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
      records.putFetch(deviceId, sha256, Buffer.from(e.bits), e.complete ? 1 : 0);
    },
    fetched(deviceId, sha256) {
      const key = `${deviceId}\u0000${sha256}`;
      const e = open.get(key);
      if (e) return e.complete;
      return records.getFetch(deviceId, sha256)?.complete === 1;
    },
    reportedIn(deviceId, model, version, role, since) {
      return records.reportedIn(model, version, since - TELEMETRY_LIMITS.spanMs, since, role, deviceId);
    },
  };
}
