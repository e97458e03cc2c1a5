// What the hub knows a device holds (design §3, §7): per device and artifact, the chunks it has asked the
// hub for, persisted (store/deliveries.ts), and whether its own telemetry names a model version. The rollout
// engine counts a device converged on a version only when its reported claim is consistent with one of them,
// so a device cannot report a version it never fetched and be counted (see rollouts/claims.ts).

import { TELEMETRY_LIMITS } from '@edgefleet/protocol';
import type { DeliveryRecords } from '../store/deliveries.js';
import type { Changes } from '../store/changes.js';

export interface Deliveries {
  /**
   * A device asked for these chunks of an artifact of `count` chunks (chunk server, after its checks), while
   * listening on the artifact's multicast topic or not.
   */
  requested(deviceId: string, sha256: string, chunks: readonly number[], count: number, multicast: boolean): Promise<void>;
  /**
   * The device fetched the artifact from the hub (over all hub restarts and every replica): it asked for
   * every chunk at least once, or asked while listening on the multicast topic (which brings chunks it never
   * needs to ask for).
   */
  fetched(deviceId: string, sha256: string): Promise<boolean>;
  /** The device's own telemetry names this version and role in a window ending after `since` (epoch ms). */
  reportedIn(deviceId: string, model: string, version: string, role: 'active' | 'shadow', since: number): Promise<boolean>;
}

export function createDeliveries(records: DeliveryRecords, changes?: Pick<Changes, 'subscribe'>): Deliveries {
  // what this hub knows each device asked for (a complete one is one flag in the table): a request that adds
  // nothing known is not written; dropped when large, reloaded on use
  const known = new Map<string, { bits: Uint8Array; complete: boolean }>();
  // a device removed or given new credentials (on any replica) starts with no fetch records
  changes?.subscribe('device', (id) => {
    if (id === null) return known.clear();
    for (const k of known.keys()) if (k.startsWith(`${id}\u0000`)) known.delete(k);
  });
  const remember = (key: string, e: { bits: Uint8Array; complete: boolean }) => {
    if (known.size > 10_000) known.clear();
    known.set(key, e);
  };
  const allOf = (count: number) => (bits: Uint8Array) => {
    for (let i = 0; i < count; i++) if (!(bits[i >> 3]! & (1 << (i & 7)))) return false;
    return true;
  };
  return {
    async requested(deviceId, sha256, chunks, count, multicast) {
      const key = `${deviceId}\u0000${sha256}`;
      const e = known.get(key);
      if (e?.complete) return;
      const bits = new Uint8Array(Math.ceil(count / 8));
      let adds = e === undefined || multicast;
      for (const i of chunks) {
        if (i < 0 || i >= count) continue; // the chunk server refused these already
        const bit = 1 << (i & 7);
        bits[i >> 3]! |= bit;
        if (!(e && e.bits[i >> 3]! & bit)) adds = true;
      }
      if (!adds) return;
      const merged = await records.mergeFetch(deviceId, sha256, bits, multicast ? () => true : allOf(count));
      remember(key, { bits: merged.requested, complete: merged.complete });
    },
    async fetched(deviceId, sha256) {
      const e = known.get(`${deviceId}\u0000${sha256}`);
      if (e?.complete) return true;
      // not complete as far as this hub knows: another replica may have served the rest
      return (await records.getFetch(deviceId, sha256))?.complete === 1;
    },
    reportedIn(deviceId, model, version, role, since) {
      return records.reportedIn(model, version, since - TELEMETRY_LIMITS.spanMs, since, role, deviceId);
    },
  };
}
