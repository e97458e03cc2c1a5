// SQL of the device events table beyond the store's insert (design §4 events topic, §7 store): the event
// log's de-duplication, per-device cap and retention, and the newest events for the fleet overview.

import type { Db } from './db.js';
import { preparedPerDb } from './prepared.js';

export interface RecentEvent {
  id: number;
  deviceId: string;
  type: string;
  model: string | null;
  version: string | null;
  code: string | null;
  message: string;
  at: string;
}

export type EventSql = ReturnType<typeof prepare>;

/** The event statements of a store's database (prepared once per database). */
export const createEventSql = preparedPerDb(prepare);

function prepare(db: Db) {
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
    recent: db.prepare<[number], RecentEvent>(
      'SELECT id, device_id AS deviceId, type, model, version, code, message, at FROM events ORDER BY id DESC LIMIT ?',
    ),
  };
  return {
    /** True when the device stored an event equal on (at, type, message) before. */
    seen: (deviceId: string, at: string, type: string, message: string): boolean => st.seen.get(deviceId, at, type, message) !== undefined,
    /** Deletes the device's events beyond its newest `keep`. */
    trim: (deviceId: string, keep: number) => st.trim.run(deviceId, deviceId, keep),
    /** Deletes events received before `before` (epoch ms) in one transaction; returns the rows deleted. */
    prune: (before: number): number =>
      db.transaction(() => {
        const kept = st.firstKept.get(before);
        return kept ? st.deleteBelow.run(kept.id).changes : st.deleteAll.run().changes;
      })(),
    /** The newest events over all devices. */
    recent: (limit: number): RecentEvent[] => st.recent.all(limit),
  };
}
