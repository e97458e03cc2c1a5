// SQL of artifact deliveries (design §3, §7): per device and artifact, the chunks it asked the hub for and
// whether that is all of them; and whether a device's own telemetry named a model version.

import type { Db } from './db.js';

export interface DeliveryRecords {
  getFetch(deviceId: string, sha256: string): { requested: Buffer; complete: number } | undefined;
  putFetch(deviceId: string, sha256: string, requested: Buffer, complete: 0 | 1): void;
  /** A telemetry window of the device for this version and role starting at or after `from`, ending after `since`. */
  reportedIn(model: string, version: string, from: number, since: number, role: string, deviceId: string): boolean;
}

export function createDeliveryRecords(db: Db): DeliveryRecords {
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
  return {
    getFetch: (deviceId, sha256) => st.get.get(deviceId, sha256),
    putFetch: (deviceId, sha256, requested, complete) => {
      st.put.run(deviceId, sha256, requested, complete);
    },
    reportedIn: (model, version, from, since, role, deviceId) => st.reported.get(model, version, from, since, role, deviceId) !== undefined,
  };
}
