// SQL of the telemetry tables (design §6, §7): de-duplication records and their floors, raw windows,
// per-minute rollups and who reported in them. Ingest writes them in its flush transaction; the health
// reads (health API, rollout gates, fleet status, alarms) select stored window bodies to merge.

import type { SqlDatabase, SqlParams, SqlValue } from './sql.js';

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

export type TelemetrySql = ReturnType<typeof createTelemetrySql>;

/** One telemetry window as ingest stores it. */
export interface WindowInsert {
  deviceId: string;
  model: string;
  version: string;
  role: string;
  start: number;
  end: number;
  inferences: number;
  body: string;
  receivedAt: number;
}

/** A rollup: one model version and role in one minute (epoch ms). */
export interface RollupKey {
  model: string;
  version: string;
  role: string;
  minute: number;
}

/** One de-duplication record of a batch. */
export interface BatchInsert {
  deviceId: string;
  seq: number;
  receivedAt: number;
  windows: number;
  dropped: number;
}

/** Row counts of SQLite's multi-row de-duplication inserts, largest first (5 params a row, under its 32,766). */
const SQLITE_CHUNKS = [256, 64, 16, 4, 1];

export function createTelemetrySql(sql: SqlDatabase) {
  const d = sql.dialect;
  return {
    /**
     * Records batches for de-duplication on (deviceId, seq), set-based; resolves to the keys
     * (`deviceId\0seq`, batchKey) that were new. A batch recorded before — by this hub or another replica,
     * committed or committing — is not new.
     */
    async insertNewBatches(rows: readonly BatchInsert[]): Promise<Set<string>> {
      const out = new Set<string>();
      const head = 'INSERT INTO telemetry_batches (device_id, seq, received_at, windows, dropped) VALUES ';
      const tail = ' ON CONFLICT DO NOTHING RETURNING device_id, seq';
      const values = (b: BatchInsert, i: number, p: Record<string, SqlValue>) => {
        p[`d${i}`] = b.deviceId;
        p[`s${i}`] = b.seq;
        p[`r${i}`] = b.receivedAt;
        p[`w${i}`] = b.windows;
        p[`x${i}`] = b.dropped;
        return `(@d${i}, @s${i}, @r${i}, @w${i}, @x${i})`;
      };
      // multi-row statements: PostgreSQL 1000 rows a round trip; SQLite in chunks of a few fixed sizes, so
      // the prepared statements it caches (one per distinct text) stay few and a flush is a handful of calls
      for (let start = 0; start < rows.length; ) {
        const left = rows.length - start;
        const per = d.name === 'postgres' ? Math.min(1000, left) : (SQLITE_CHUNKS.find((n) => n <= left) ?? 1);
        const params: Record<string, SqlValue> = {};
        const tuples = rows.slice(start, start + per).map((b, i) => values(b, i, params));
        start += per;
        for (const r of await sql.all<{ device_id: string; seq: number }>(head + tuples.join(', ') + tail, params)) out.add(batchKey(r.device_id, r.seq));
      }
      return out;
    },
    insertWindows: (rows: readonly WindowInsert[]): Promise<number> =>
      sql.insertRows(
        'telemetry_windows',
        ['device_id', 'model', 'version', 'role', 'start', 'end', 'inferences', 'body', 'received_at'],
        rows.map((w) => [w.deviceId, w.model, w.version, w.role, w.start, w.end, w.inferences, w.body, w.receivedAt]),
      ),
    /**
     * This replica's row of a rollup (design §8): each replica keeps its own row per minute, written by its
     * one flush at a time, and readers add the rows of every replica (merge.ts) — no replica waits for another.
     */
    rollupBody: async (replica: string, k: RollupKey): Promise<string | undefined> =>
      (await sql.get<{ body: string }>('SELECT body FROM rollups WHERE model = @model AND version = @version AND role = @role AND minute = @minute AND replica = @replica', { ...k, replica }))?.body,
    /**
     * Writes this replica's row of a rollup, if it still holds `prior` (the body `rollupBody` read, or
     * undefined for none): false when another process wrote it meanwhile — one that was given this replica's
     * id too (a copied data dir) — and nothing was written.
     */
    putRollup: async (replica: string, k: RollupKey, row: { inferences: number; errors: number; body: string; prior: string | undefined }): Promise<boolean> =>
      (await sql.run(
        `INSERT INTO rollups (model, version, role, minute, replica, inferences, errors, body) VALUES (@model, @version, @role, @minute, @replica, @inferences, @errors, @body)
         ON CONFLICT (model, version, role, minute, replica) DO UPDATE SET inferences = excluded.inferences, errors = excluded.errors, body = excluded.body
         WHERE rollups.body = @prior`,
        { ...k, replica, inferences: row.inferences, errors: row.errors, body: row.body, prior: row.prior ?? null },
      )) === 1,
    markRollupDevices: (rows: ReadonlyArray<RollupKey & { deviceId: string }>) =>
      sql.insertRows(
        'rollup_devices',
        ['model', 'version', 'role', 'minute', 'device_id'],
        rows.map((r) => [r.model, r.version, r.role, r.minute, r.deviceId]),
        { ignoreConflicts: true },
      ),
    /**
     * PostgreSQL, inside a flush's transaction: lock the device rows it will read and write (reports,
     * statuses, last-seen times, its batch records and rollup_devices rows), in one order for every replica
     * (sorted), so two replicas' flushes of one device wait for each other instead of deadlocking or losing an
     * update. Rollups need no lock: a replica writes only its own rows. SQLite runs one transaction at a time.
     */
    async lockForFlush(deviceIds: readonly string[]): Promise<void> {
      if (d.name !== 'postgres' || deviceIds.length === 0) return;
      await sql.all(`SELECT id FROM devices WHERE ${d.inJsonArray('id', 'ids')} ORDER BY id FOR UPDATE`, { ids: JSON.stringify([...new Set(deviceIds)].sort()) });
    },
    /** The highest seq retention deleted the record of, or undefined. */
    seqFloor: async (deviceId: string): Promise<number | undefined> =>
      (await sql.get<{ seq: number }>('SELECT seq FROM telemetry_seq_floor WHERE device_id = @deviceId', { deviceId }))?.seq,
    /** The floors of several devices (devices without one are absent). */
    async seqFloors(deviceIds: readonly string[]): Promise<Map<string, number>> {
      if (deviceIds.length === 0) return new Map();
      const rows = await sql.all<{ device_id: string; seq: number }>(`SELECT device_id, seq FROM telemetry_seq_floor WHERE ${d.inJsonArray('device_id', 'ids')}`, {
        ids: JSON.stringify([...new Set(deviceIds)]),
      });
      return new Map(rows.map((r) => [r.device_id, r.seq]));
    },

    /**
     * Retention (design §7): raise the seq floors, then drop raw windows and de-duplication records received
     * before `rawBefore` and rollups older than `rollupsBefore`, in one transaction; returns the rows deleted.
     */
    prune: (rawBefore: number, rollupsBefore: number): Promise<number> =>
      sql.transaction(async (tx) => {
        // before retention deletes de-duplication records: keep, per device, the highest seq it deletes
        await tx.run(
          `INSERT INTO telemetry_seq_floor (device_id, seq) SELECT device_id, MAX(seq) FROM telemetry_batches WHERE received_at < @rawBefore GROUP BY device_id
           ON CONFLICT (device_id) DO UPDATE SET seq = ${d.greatest('telemetry_seq_floor.seq', 'excluded.seq')}`,
          { rawBefore },
        );
        return (
          (await tx.run('DELETE FROM telemetry_windows WHERE received_at < @rawBefore', { rawBefore })) +
          (await tx.run('DELETE FROM telemetry_batches WHERE received_at < @rawBefore', { rawBefore })) +
          (await tx.run('DELETE FROM rollups WHERE minute < @rollupsBefore', { rollupsBefore })) +
          (await tx.run('DELETE FROM rollup_devices WHERE minute < @rollupsBefore', { rollupsBefore }))
        );
      }),

    /** Model versions with rollups from `minute` on. */
    versionsInUse: (minute: number) =>
      sql.all<{ model: string; version: string }>('SELECT DISTINCT model, version FROM rollups WHERE minute >= @minute ORDER BY model, version', { minute }),
    /**
     * Rollups from `minute` on (a row per minute and replica that wrote in it: the caller adds them up with
     * merge.ts), and per model version and role the devices that reported in them.
     */
    rollupsSince: async (minute: number) => ({
      rows: await sql.all<{ model: string; version: string; role: string; inferences: number; errors: number; body: string }>(
        'SELECT model, version, role, inferences, errors, body FROM rollups WHERE minute >= @minute ORDER BY model, version, role, minute, replica',
        { minute },
      ),
      reporting: await sql.all<{ model: string; version: string; role: string; n: number }>(
        'SELECT model, version, role, COUNT(DISTINCT device_id) AS n FROM rollup_devices WHERE minute >= @minute GROUP BY model, version, role',
        { minute },
      ),
    }),

    /** Raw windows of one version by device, device set or tag group, by start. */
    rawWindows(q: RawHealthQuery): Promise<StoredWindowRow[]> {
      const clauses: string[] = [];
      const params: Record<string, SqlValue> = { model: q.model, version: q.version, from: q.from, to: q.to };
      if (q.role) {
        clauses.push('role = @role');
        params.role = q.role;
      }
      if (q.device) {
        clauses.push('device_id = @device');
        params.device = q.device;
      }
      if (q.deviceIds) {
        clauses.push(d.inJsonArray('device_id', 'deviceIds'));
        params.deviceIds = JSON.stringify(q.deviceIds);
      }
      Object.entries(q.tags ?? {}).forEach(([k, v], i) => {
        clauses.push(`device_id IN (SELECT id FROM devices WHERE ${d.jsonText('tags', [{ param: `tk${i}` }])} = @tv${i})`);
        params[`tk${i}`] = k;
        params[`tv${i}`] = v;
      });
      const where = ['model = @model', 'version = @version', 'start >= @from', 'start < @to', ...clauses].join(' AND ');
      return sql.all<StoredWindowRow>(`SELECT start AS t, device_id AS device, body FROM telemetry_windows WHERE ${where} ORDER BY start`, params);
    },

    /**
     * Rollups of one version from `from` (a rollup minute) to `to` — a row per minute and replica that wrote
     * in it, for the caller to add up (merge.ts) — and the devices that reported in them.
     */
    async rollupWindows(q: { model: string; version: string; role?: 'active' | 'shadow'; from: number; to: number }): Promise<{ rows: StoredWindowRow[]; devices: number }> {
      const params: SqlParams = { model: q.model, version: q.version, from: q.from, to: q.to, ...(q.role ? { role: q.role } : {}) };
      const where = `model = @model AND version = @version AND minute >= @from AND minute < @to${q.role ? ' AND role = @role' : ''}`;
      const rows = await sql.all<StoredWindowRow>(`SELECT minute AS t, '' AS device, body FROM rollups WHERE ${where} ORDER BY minute, replica`, params);
      const devices = (await sql.get<{ n: number }>(`SELECT COUNT(DISTINCT device_id) AS n FROM rollup_devices WHERE ${where}`, params))?.n ?? 0;
      return { rows, devices };
    },

    /** Raw windows overlapping [from, to) of a device set, by start. */
    waveWindows(q: WaveWindowQuery): Promise<Array<{ device: string; body: string }>> {
      // windows overlapping the range: agents align windows to their length (60 s by default), so a wave that
      // started mid-window still sees the window its devices are filling
      const clauses = ['model = @model', '"end" > @from', 'start < @to', d.inJsonArray('device_id', 'deviceIds')];
      const params: Record<string, SqlValue> = { model: q.model, from: q.from, to: q.to, deviceIds: JSON.stringify(q.deviceIds) };
      if (q.version !== undefined) (clauses.push('version = @version'), (params.version = q.version));
      if (q.notVersion !== undefined) (clauses.push('version <> @notVersion'), (params.notVersion = q.notVersion));
      if (q.role !== undefined) (clauses.push('role = @role'), (params.role = q.role));
      return sql.all<{ device: string; body: string }>(`SELECT device_id AS device, body FROM telemetry_windows WHERE ${clauses.join(' AND ')} ORDER BY start`, params);
    },
  };
}

/** The key of a batch in `insertNewBatches`' answer. */
export const batchKey = (deviceId: string, seq: number) => `${deviceId}\u0000${seq}`;
