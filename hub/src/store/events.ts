// SQL of the device events table beyond the store's insert (design §4 events topic, §7 store): the event
// log's de-duplication, per-device cap and retention, and the newest events for the fleet overview.

import type { SqlDatabase } from './sql.js';

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

export type EventSql = ReturnType<typeof createEventSql>;

export function createEventSql(sql: SqlDatabase) {
  return {
    /** True when the device stored an event equal on (at, type, message) before. */
    seen: async (deviceId: string, at: string, type: string, message: string): Promise<boolean> =>
      // the (device_id, id) index bounds this to the device's own rows, at most maxPerDevice
      (await sql.get('SELECT 1 AS one FROM events WHERE device_id = @deviceId AND at = @at AND type = @type AND message = @message LIMIT 1', { deviceId, at, type, message })) !== undefined,
    /** Deletes the device's events beyond its newest `keep`. */
    trim: (deviceId: string, keep: number) =>
      sql.run('DELETE FROM events WHERE device_id = @deviceId AND id <= (SELECT id FROM events WHERE device_id = @deviceId ORDER BY id DESC LIMIT 1 OFFSET @keep)', { deviceId, keep }),
    /** Deletes events received before `before` (epoch ms) in one transaction; returns the rows deleted. */
    prune: (before: number): Promise<number> =>
      sql.transaction(async (tx) => {
        // ids grow with arrival, so the rows to delete are a prefix of the table: this reads only those
        const kept = await tx.get<{ id: number }>('SELECT id FROM events WHERE received_at >= @before ORDER BY id LIMIT 1', { before });
        return kept ? tx.run('DELETE FROM events WHERE id < @id', { id: kept.id }) : tx.run('DELETE FROM events');
      }),
    /** The newest events over all devices. */
    recent: (limit: number): Promise<RecentEvent[]> =>
      sql.all<RecentEvent>('SELECT id, device_id AS "deviceId", type, model, version, code, message, at FROM events ORDER BY id DESC LIMIT @limit', { limit }),
  };
}
