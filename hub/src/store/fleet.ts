// SQL of the fleet-wide reads and the alarms table (design §6, §7): device counts and silent devices (one
// definition of silent for the dashboard and the alarms), open alarms, and rollout actions from the audit log.

import type { Db } from './db.js';
import { preparedPerDb } from './prepared.js';

export interface OpenAlarm {
  key: string;
  kind: string;
  raised_at: string;
  details: string;
}

export type FleetSql = ReturnType<typeof prepare>;

/** The fleet and alarm statements of a store's database (prepared once per database). */
export const createFleetSql = preparedPerDb(prepare);

function prepare(db: Db) {
  const st = {
    counts: db.prepare<[string], { total: number; online: number; silent: number }>(
      `SELECT COUNT(*) AS total, COALESCE(SUM(status = 'online'), 0) AS online,
         COALESCE(SUM(status <> 'online' AND COALESCE(last_seen, status_at, created_at) < ?), 0) AS silent FROM devices`,
    ),
    actions: db.prepare<[number], { id: number; at: string; actor: string; action: string; details: string }>(
      "SELECT id, at, actor, action, details FROM audit WHERE action LIKE 'rollout.%' ORDER BY id DESC LIMIT ?",
    ),
    open: db.prepare<[string], OpenAlarm>('SELECT * FROM alarms WHERE kind = ?'),
    raise: db.prepare('INSERT OR IGNORE INTO alarms (key, kind, raised_at, details) VALUES (?, ?, ?, ?)'),
    clear: db.prepare('DELETE FROM alarms WHERE key = ?'),
    // the dashboard's definition of silent (the device counts above): not online, last heard of before the cutoff
    silent: db.prepare<[string], { id: string; status: string; seen: string; tags: string }>(
      `SELECT id, status, COALESCE(last_seen, status_at, created_at) AS seen, tags FROM devices
       WHERE status <> 'online' AND COALESCE(last_seen, status_at, created_at) < ? ORDER BY id`,
    ),
    device: db.prepare<[string], { status: string; seen: string }>(
      'SELECT status, COALESCE(last_seen, status_at, created_at) AS seen FROM devices WHERE id = ?',
    ),
  };
  return {
    /** Devices in total, online, and silent: not online and last heard of before `silentSince` (ISO). */
    deviceCounts: (silentSince: string) => st.counts.get(silentSince) ?? { total: 0, online: 0, silent: 0 },
    /** The newest rollout actions of the audit log, details as stored (JSON). */
    rolloutActions: (limit: number) => st.actions.all(limit),
    openAlarms: (kind: string) => st.open.all(kind),
    raiseAlarm: (key: string, kind: string, at: string, details: string) => st.raise.run(key, kind, at, details),
    clearAlarm: (key: string) => st.clear.run(key),
    /** Silent devices (not online, last heard of before `before`, ISO), by id. */
    silentDevices: (before: string) => st.silent.all(before),
    /** A device's status and when it was last heard of, or undefined when it is gone. */
    deviceSeen: (id: string) => st.device.get(id),
  };
}
