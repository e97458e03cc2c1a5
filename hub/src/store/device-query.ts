// SQL of the device list's server-side filter and paging (a table that stays fast with 10,000 devices): one
// query over the devices table, tags and reported state read with the Dialect's JSON functions.

import type { SqlDatabase, SqlValue } from './sql.js';

export interface DeviceFilter {
  tags?: Record<string, string>;
  model?: string;
  version?: string;
  /** ReportedModel.state of `model` (or of any model when no model is given). */
  state?: string;
  online?: boolean;
  /** Offline and not heard from for this many minutes. */
  silentMinutes?: number;
  /** Substring of the device id. */
  q?: string;
  limit: number;
  offset: number;
}

/** Ids of one page of matching devices (ordered by id) and the number of matches. */
export function createDeviceQuery(sql: SqlDatabase) {
  const d = sql.dialect;
  return async (f: DeviceFilter, now: Date = new Date()): Promise<{ ids: string[]; total: number }> => {
    const where: string[] = [];
    const params: Record<string, SqlValue> = {};
    Object.entries(f.tags ?? {}).forEach(([k, v], i) => {
      where.push(`${d.jsonText('d.tags', [{ param: `tk${i}` }])} = @tv${i}`);
      params[`tk${i}`] = k; // keys are [A-Za-z0-9._-] (validateTags)
      params[`tv${i}`] = v;
    });
    if (f.online !== undefined) where.push(f.online ? "d.status = 'online'" : "d.status <> 'online'");
    if (f.silentMinutes !== undefined) {
      where.push("d.status <> 'online' AND COALESCE(d.last_seen, d.status_at, d.created_at) < @silentSince");
      params.silentSince = new Date(now.getTime() - f.silentMinutes * 60_000).toISOString();
    }
    if (f.q) {
      where.push(`d.id ${d.ilike} @q ESCAPE '\\'`);
      params.q = `%${f.q.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
    }
    if (f.model || f.version || f.state) {
      const m: string[] = [];
      if (f.model) {
        m.push('m.key = @model');
        params.model = f.model;
      }
      if (f.version) {
        m.push(`${d.jsonText('m.value', ['active', 'version'])} = @version`);
        params.version = f.version;
      }
      if (f.state) {
        m.push(`${d.jsonText('m.value', ['state'])} = @state`);
        params.state = f.state;
      }
      where.push(`EXISTS (SELECT 1 FROM ${d.jsonEach('d.reported', ['models'], 'm')} WHERE ${m.join(' AND ')})`);
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (await sql.get<{ n: number }>(`SELECT COUNT(*) AS n FROM devices d ${clause}`, params))?.n ?? 0;
    const ids =
      f.limit === 0
        ? []
        : (await sql.all<{ id: string }>(`SELECT d.id FROM devices d ${clause} ORDER BY d.id LIMIT @limit OFFSET @offset`, { ...params, limit: f.limit, offset: f.offset })).map((r) => r.id);
    return { ids, total };
  };
}
