// SQL of artifact deliveries (design §3, §7): per device and artifact, the chunks it asked the hub for and
// whether that is all of them; and whether a device's own telemetry named a model version.

import type { SqlDatabase } from './sql.js';

export interface DeliveryRecords {
  getFetch(deviceId: string, sha256: string): Promise<{ requested: Buffer; complete: number } | undefined>;
  /**
   * Adds the chunks in `requested` (a bitmap) to the device's record of the artifact, and marks it complete
   * when `complete(merged)` says so; resolves to the merged record. Additive, in one transaction with the row
   * locked: replicas serving the same device's requests add to one record instead of overwriting each other.
   */
  mergeFetch(deviceId: string, sha256: string, requested: Uint8Array, complete: (merged: Uint8Array) => boolean): Promise<{ requested: Buffer; complete: boolean }>;
  /** A telemetry window of the device for this version and role starting at or after `from`, ending after `since`. */
  reportedIn(model: string, version: string, from: number, since: number, role: string, deviceId: string): Promise<boolean>;
}

export function createDeliveryRecords(sql: SqlDatabase): DeliveryRecords {
  return {
    async getFetch(deviceId, sha256) {
      const r = await sql.get<{ requested: Uint8Array; complete: number }>('SELECT requested, complete FROM artifact_fetches WHERE device_id = @deviceId AND sha256 = @sha256', { deviceId, sha256 });
      return r && { requested: Buffer.isBuffer(r.requested) ? r.requested : Buffer.from(r.requested), complete: r.complete };
    },
    mergeFetch: (deviceId, sha256, requested, complete) =>
      sql.transaction(async (tx) => {
        // the row exists before it is read locked: two replicas recording a device's first request at once
        // would otherwise both find none, and the second write would drop the first's bits
        await tx.run('INSERT INTO artifact_fetches (device_id, sha256, requested, complete) VALUES (@deviceId, @sha256, @empty, 0) ON CONFLICT DO NOTHING', {
          deviceId,
          sha256,
          empty: new Uint8Array(0),
        });
        const lock = tx.dialect.name === 'postgres' ? ' FOR UPDATE' : '';
        const row = await tx.get<{ requested: Uint8Array; complete: number }>(
          `SELECT requested, complete FROM artifact_fetches WHERE device_id = @deviceId AND sha256 = @sha256${lock}`,
          { deviceId, sha256 },
        );
        const merged = Buffer.alloc(Math.max(requested.length, row?.requested.length ?? 0));
        merged.set(requested);
        if (row) for (let i = 0; i < row.requested.length; i++) merged[i]! |= row.requested[i]!;
        const done = row?.complete === 1 || complete(merged);
        await tx.run(
          `INSERT INTO artifact_fetches (device_id, sha256, requested, complete) VALUES (@deviceId, @sha256, @requested, @complete)
           ON CONFLICT (device_id, sha256) DO UPDATE SET requested = excluded.requested, complete = excluded.complete`,
          { deviceId, sha256, requested: merged, complete: done ? 1 : 0 },
        );
        return { requested: merged, complete: done };
      }),
    // windows are at most TELEMETRY_LIMITS.spanMs long: the (model, version, start) index bounds the scan
    reportedIn: async (model, version, from, since, role, deviceId) =>
      (await sql.get(
        'SELECT 1 AS n FROM telemetry_windows WHERE model = @model AND version = @version AND start >= @from AND "end" > @since AND role = @role AND device_id = @deviceId LIMIT 1',
        { model, version, from, since, role, deviceId },
      )) !== undefined,
  };
}
