// SQL of the telemetry tables (design §6, §7): de-duplication records and their floors, raw windows,
// per-minute rollups and who reported in them. Ingest writes them in its flush transaction; the health
// reads (health API, rollout gates, fleet status, alarms) select stored window bodies to merge.

import type { Db } from './db.js';
import { preparedPerDb } from './prepared.js';

/** A stored window body with its time (start or rollup minute) and device ('' for a rollup). */
export interface StoredWindowRow {
  t: number;
  device: string;
  body: string;
}

/** Raw windows of one model version by device, device set or tag group (the health API's per-device path). */
export interface RawHealthQuery {
  model: string;
  version: string;
  role?: 'active' | 'shadow';
  from: number;
  to: number;
  device?: string;
  deviceIds?: readonly string[];
  tags?: Record<string, string>;
}

/** Raw windows of one model overlapping [from, to) from a device set (what the rollout gates merge). */
export interface WaveWindowQuery {
  model: string;
  version?: string;
  notVersion?: string;
  role?: 'active' | 'shadow';
  deviceIds: readonly string[];
  from: number;
  to: number;
}

export type TelemetrySql = ReturnType<typeof prepare>;

/** The telemetry statements of a store's database (prepared once per database). */
export const createTelemetrySql = preparedPerDb(prepare);

function prepare(db: Db) {
  const st = {
    batch: db.prepare('INSERT OR IGNORE INTO telemetry_batches (device_id, seq, received_at, windows, dropped) VALUES (?, ?, ?, ?, ?)'),
    window: db.prepare(
      'INSERT INTO telemetry_windows (device_id, model, version, role, start, end, inferences, body, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    rollupGet: db.prepare<[string, string, string, number], { body: string }>(
      'SELECT body FROM rollups WHERE model = ? AND version = ? AND role = ? AND minute = ?',
    ),
    rollupPut: db.prepare(
      `INSERT INTO rollups (model, version, role, minute, inferences, errors, body) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (model, version, role, minute) DO UPDATE SET inferences = excluded.inferences, errors = excluded.errors, body = excluded.body`,
    ),
    rollupDevice: db.prepare('INSERT OR IGNORE INTO rollup_devices (model, version, role, minute, device_id) VALUES (?, ?, ?, ?, ?)'),
    floorGet: db.prepare<[string], { seq: number }>('SELECT seq FROM telemetry_seq_floor WHERE device_id = ?'),
    // before retention deletes de-duplication records: keep, per device, the highest seq it deletes
    floorRaise: db.prepare(
      `INSERT INTO telemetry_seq_floor (device_id, seq) SELECT device_id, MAX(seq) FROM telemetry_batches WHERE received_at < ? GROUP BY device_id
       ON CONFLICT (device_id) DO UPDATE SET seq = MAX(seq, excluded.seq)`,
    ),
    inUse: db.prepare<[number], { model: string; version: string }>('SELECT DISTINCT model, version FROM rollups WHERE minute >= ? ORDER BY model, version'),
    rollupsSince: db.prepare<[number], { model: string; version: string; role: string; inferences: number; errors: number; body: string }>(
      'SELECT model, version, role, inferences, errors, body FROM rollups WHERE minute >= ? ORDER BY model, version, role',
    ),
    reportingSince: db.prepare<[number], { model: string; version: string; role: string; n: number }>(
      'SELECT model, version, role, COUNT(DISTINCT device_id) AS n FROM rollup_devices WHERE minute >= ? GROUP BY model, version, role',
    ),
  };

  return {
    /** Records a batch for de-duplication on (deviceId, seq); false when it was recorded before. */
    insertBatch: (deviceId: string, seq: number, receivedAt: number, windows: number, dropped: number): boolean =>
      st.batch.run(deviceId, seq, receivedAt, windows, dropped).changes > 0,
    insertWindow: (deviceId: string, w: { model: string; version: string; role: string; start: number; end: number; inferences: number }, body: string, receivedAt: number) =>
      st.window.run(deviceId, w.model, w.version, w.role, w.start, w.end, w.inferences, body, receivedAt),
    rollupBody: (model: string, version: string, role: string, minute: number): string | undefined => st.rollupGet.get(model, version, role, minute)?.body,
    putRollup: (model: string, version: string, role: string, minute: number, inferences: number, errors: number, body: string) =>
      st.rollupPut.run(model, version, role, minute, inferences, errors, body),
    markRollupDevice: (model: string, version: string, role: string, minute: number, deviceId: string) =>
      st.rollupDevice.run(model, version, role, minute, deviceId),
    /** The highest seq retention deleted the record of, or undefined. */
    seqFloor: (deviceId: string): number | undefined => st.floorGet.get(deviceId)?.seq,

    /**
     * Retention (design §7): raise the seq floors, then drop raw windows and de-duplication records received
     * before `rawBefore` and rollups older than `rollupsBefore`, in one transaction; returns the rows deleted.
     */
    prune: (rawBefore: number, rollupsBefore: number): number =>
      db.transaction(() => {
        st.floorRaise.run(rawBefore); // before the records it reads go
        return (
          db.prepare('DELETE FROM telemetry_windows WHERE received_at < ?').run(rawBefore).changes +
          db.prepare('DELETE FROM telemetry_batches WHERE received_at < ?').run(rawBefore).changes +
          db.prepare('DELETE FROM rollups WHERE minute < ?').run(rollupsBefore).changes +
          db.prepare('DELETE FROM rollup_devices WHERE minute < ?').run(rollupsBefore).changes
        );
      })(),

    /** Model versions with rollups from `minute` on. */
    versionsInUse: (minute: number) => st.inUse.all(minute),
    /** Rollups from `minute` on, and per model version and role the devices that reported in them. */
    rollupsSince: (minute: number) => ({ rows: st.rollupsSince.all(minute), reporting: st.reportingSince.all(minute) }),

    /** Raw windows of one version by device, device set or tag group, by start. */
    rawWindows(q: RawHealthQuery): StoredWindowRow[] {
      const roleSql = q.role ? ' AND role = @role' : '';
      const clauses: string[] = [];
      const params: Record<string, unknown> = { model: q.model, version: q.version, from: q.from, to: q.to, role: q.role };
      if (q.device) {
        clauses.push('device_id = @device');
        params.device = q.device;
      }
      if (q.deviceIds) {
        clauses.push('device_id IN (SELECT value FROM json_each(@deviceIds))');
        params.deviceIds = JSON.stringify(q.deviceIds);
      }
      Object.entries(q.tags ?? {}).forEach(([k, v], i) => {
        clauses.push(`device_id IN (SELECT id FROM devices WHERE json_extract(tags, @tk${i}) = @tv${i})`);
        params[`tk${i}`] = `$."${k}"`;
        params[`tv${i}`] = v;
      });
      const where = `model = @model AND version = @version AND start >= @from AND start < @to${roleSql} AND ${clauses.join(' AND ')}`;
      return db.prepare<Record<string, unknown>, StoredWindowRow>(`SELECT start AS t, device_id AS device, body FROM telemetry_windows WHERE ${where} ORDER BY start`).all(params);
    },

    /** Rollups of one version from `from` (a rollup minute) to `to`, and the devices that reported in them. */
    rollupWindows(q: { model: string; version: string; role?: 'active' | 'shadow'; from: number; to: number }): { rows: StoredWindowRow[]; devices: number } {
      const roleSql = q.role ? ' AND role = @role' : '';
      const params = { model: q.model, version: q.version, from: q.from, to: q.to, role: q.role };
      const where = `model = @model AND version = @version AND minute >= @from AND minute < @to${roleSql}`;
      const rows = db.prepare<typeof params, StoredWindowRow>(`SELECT minute AS t, '' AS device, body FROM rollups WHERE ${where} ORDER BY minute`).all(params);
      const devices = db.prepare<typeof params, { n: number }>(`SELECT COUNT(DISTINCT device_id) AS n FROM rollup_devices WHERE ${where}`).get(params)?.n ?? 0;
      return { rows, devices };
    },

    /** Raw windows overlapping [from, to) of a device set, by start. */
    waveWindows(q: WaveWindowQuery): Array<{ device: string; body: string }> {
      // windows overlapping the range: agents align windows to their length (60 s by default), so a wave that
      // started mid-window still sees the window its devices are filling
      const clauses = ['model = @model', 'end > @from', 'start < @to', 'device_id IN (SELECT value FROM json_each(@deviceIds))'];
      const params: Record<string, unknown> = { model: q.model, from: q.from, to: q.to, deviceIds: JSON.stringify(q.deviceIds) };
      if (q.version !== undefined) (clauses.push('version = @version'), (params.version = q.version));
      if (q.notVersion !== undefined) (clauses.push('version <> @notVersion'), (params.notVersion = q.notVersion));
      if (q.role !== undefined) (clauses.push('role = @role'), (params.role = q.role));
      return db
        .prepare<Record<string, unknown>, { device: string; body: string }>(
          `SELECT device_id AS device, body FROM telemetry_windows WHERE ${clauses.join(' AND ')} ORDER BY start`,
        )
        .all(params);
    },
  };
}
