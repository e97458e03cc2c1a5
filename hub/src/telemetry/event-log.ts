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
  add(deviceId: string, event: DeviceEvent, receivedAt: number): boolean;
  /** Delete events received before `before` (epoch ms); returns the rows deleted. */
  prune(before: number): number;
}

export function createEventLog(store: Store, options: EventLogOptions = {}): EventLog {
  const db = store.db;
  const maxPerDevice = Math.max(1, Math.floor(options.maxPerDevice ?? 1000));
  const st = {
    // the (device_id, id) index bounds this to the device's own rows, at most maxPerDevice
    seen: db.prepare<[string, string, string, string], { one: number }>(
      'SELECT 1 AS one FROM events WHERE device_id = ? AND at = ? AND type = ? AND message = ? LIMIT 1',
    ),
    trim: db.prepare(
      'DELETE FROM events WHERE device_id = ? AND id <= (SELECT id FROM events WHERE device_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)',
    ),
    // ids grow with arrival, so the rows to delete are a prefix of the table: this reads only those
    firstKept: db.prepare<[number], { id: number }>('SELECT id FROM events WHERE received_at >= ? ORDER BY id LIMIT 1'),
    deleteBelow: db.prepare('DELETE FROM events WHERE id < ?'),
    deleteAll: db.prepare('DELETE FROM events'),
  };

  return {
    add(deviceId, e, receivedAt) {
      if (st.seen.get(deviceId, e.at, e.type, e.message)) return false;
      store.insertEvent({
        deviceId,
        type: e.type,
        model: e.model ?? null,
        version: e.version ?? null,
        code: e.code ?? null,
        message: e.message,
        at: e.at,
        receivedAt,
      });
      st.trim.run(deviceId, deviceId, maxPerDevice);
      return true;
    },
    prune(before) {
      return store.transaction(() => {
        const kept = st.firstKept.get(before);
        return kept ? st.deleteBelow.run(kept.id).changes : st.deleteAll.run().changes;
      });
    },
  };
}
