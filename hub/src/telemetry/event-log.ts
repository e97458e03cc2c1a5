// Device events in the hub database (design §4 events topic, §7 store): stored once, at most
// `maxPerDevice` per device (the newest), and deleted after the retention period by the hub's upkeep.

import type { DeviceEvent } from '@edgefleet/protocol';
import type { Store } from '../store/db.js';

export interface EventLogOptions {
  /** Events kept per device, the newest (default 1000: ≈ 2.5 MB per device at the 2 KiB message cap). */
  maxPerDevice?: number;
}

export interface EventLog {
  /**
   * Store one device event; false when the device already reported it: agents send events at least once
   * (a crash between publish and save repeats one) and a broker may hand a retained copy back, so an event
   * equal on (deviceId, at, type, message) to a stored one is the same event.
   */
  add(deviceId: string, event: DeviceEvent, receivedAt: number): Promise<boolean>;
  /** Delete events received before `before` (epoch ms); returns the rows deleted. */
  prune(before: number): Promise<number>;
}

export function createEventLog(store: Store, options: EventLogOptions = {}): EventLog {
  const sql = store.events;
  const maxPerDevice = Math.max(1, Math.floor(options.maxPerDevice ?? 1000));

  return {
    async add(deviceId, e, receivedAt) {
      if (await sql.seen(deviceId, e.at, e.type, e.message)) return false;
      await store.insertEvent({
        deviceId,
        type: e.type,
        model: e.model ?? null,
        version: e.version ?? null,
        code: e.code ?? null,
        message: e.message,
        at: e.at,
        receivedAt,
      });
      await sql.trim(deviceId, maxPerDevice);
      return true;
    },
    prune: (before) => sql.prune(before),
  };
}
