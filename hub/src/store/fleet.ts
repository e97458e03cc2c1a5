// SQL of the fleet-wide reads and the alarms table (design §6, §7): device counts and silent devices (one
// definition of silent for the dashboard and the alarms), open alarms, and rollout actions from the audit log.

import type { SqlDatabase } from './sql.js';

export interface OpenAlarm {
  key: string;
  kind: string;
  raised_at: string;
  details: string;
}

export type FleetSql = ReturnType<typeof createFleetSql>;

// the dashboard's definition of silent (the device counts and the alarms): not online, last heard of before the cutoff
const SEEN = 'COALESCE(last_seen, status_at, created_at)';

export function createFleetSql(sql: SqlDatabase) {
  return {
    /** Devices in total, online, and silent: not online and last heard of before `silentSince` (ISO). */
    deviceCounts: async (silentSince: string) =>
      (await sql.get<{ total: number; online: number; silent: number }>(
        `SELECT COUNT(*) AS total, COALESCE(SUM(CASE WHEN status = 'online' THEN 1 ELSE 0 END), 0) AS online,
           COALESCE(SUM(CASE WHEN status <> 'online' AND ${SEEN} < @silentSince THEN 1 ELSE 0 END), 0) AS silent FROM devices`,
        { silentSince },
      )) ?? { total: 0, online: 0, silent: 0 },
    /** The newest rollout actions of the audit log, details as stored (JSON). */
    rolloutActions: (limit: number) =>
      sql.all<{ id: number; at: string; actor: string; action: string; details: string }>(
        "SELECT id, at, actor, action, details FROM audit WHERE action LIKE 'rollout.%' ORDER BY id DESC LIMIT @limit",
        { limit },
      ),
    openAlarms: (kind: string) => sql.all<OpenAlarm>('SELECT * FROM alarms WHERE kind = @kind', { kind }),
    /** Records an alarm as raised; false when it was raised already (by this hub or another replica). */
    raiseAlarm: async (key: string, kind: string, at: string, details: string): Promise<boolean> =>
      (await sql.run('INSERT INTO alarms (key, kind, raised_at, details) VALUES (@key, @kind, @at, @details) ON CONFLICT DO NOTHING', { key, kind, at, details })) > 0,
    clearAlarm: (key: string) => sql.run('DELETE FROM alarms WHERE key = @key', { key }),
    /** Silent devices (not online, last heard of before `before`, ISO), by id. */
    silentDevices: (before: string) =>
      sql.all<{ id: string; status: string; seen: string; tags: string }>(
        `SELECT id, status, ${SEEN} AS seen, tags FROM devices WHERE status <> 'online' AND ${SEEN} < @before ORDER BY id`,
        { before },
      ),
    /** Every device's tags as stored (JSON), for the tag keys and values the dashboard groups by. */
    deviceTags: () => sql.all<{ id: string; tags: string }>('SELECT id, tags FROM devices ORDER BY id'),
    /** A device's status and when it was last heard of, or undefined when it is gone. */
    deviceSeen: (id: string) => sql.get<{ status: string; seen: string }>(`SELECT status, ${SEEN} AS seen FROM devices WHERE id = @id`, { id }),
  };
}
