// The webhook tables (design §7): receivers added through the API and the bounded delivery log.

import type { Db } from './db.js';

export interface WebhookRow {
  id: string;
  url: string;
  created_at: string;
  created_by: string;
}

/** One delivery attempt in the log. */
export interface DeliveryRow {
  id: number;
  deliveryId: string;
  eventId: string;
  event: string;
  url: string;
  attempt: number;
  /** HTTP status, or null when no response came (network error, timeout). */
  status: number | null;
  error: string | null;
  startedAt: string;
  finishedAt: string;
}

interface RawDelivery {
  id: number;
  delivery_id: string;
  event_id: string;
  event: string;
  url: string;
  attempt: number;
  status: number | null;
  error: string | null;
  started_at: string;
  finished_at: string;
}

export type WebhookStore = ReturnType<typeof createWebhookStore>;

export function createWebhookStore(db: Db) {
  const st = {
    list: db.prepare<[], WebhookRow>('SELECT * FROM webhooks ORDER BY created_at, id'),
    insert: db.prepare('INSERT INTO webhooks (id, url, created_at, created_by) VALUES (?, ?, ?, ?)'),
    byUrl: db.prepare<[string], { id: string }>('SELECT id FROM webhooks WHERE url = ?'),
    remove: db.prepare('DELETE FROM webhooks WHERE id = ?'),
    log: db.prepare(
      `INSERT INTO webhook_deliveries (delivery_id, event_id, event, url, attempt, status, error, started_at, finished_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    trim: db.prepare('DELETE FROM webhook_deliveries WHERE id <= (SELECT MAX(id) FROM webhook_deliveries) - ?'),
  };
  return {
    list: (): WebhookRow[] => st.list.all(),
    insert: (id: string, url: string, createdAt: string, createdBy: string): void => void st.insert.run(id, url, createdAt, createdBy),
    hasUrl: (url: string): boolean => st.byUrl.get(url) !== undefined,
    /** False when there is no receiver with that id. */
    remove: (id: string): boolean => st.remove.run(id).changes > 0,
    /** Appends one attempt; returns its row id. */
    logDelivery: (e: Omit<DeliveryRow, 'id'>): number =>
      Number(st.log.run(e.deliveryId, e.eventId, e.event, e.url, e.attempt, e.status, e.error, e.startedAt, e.finishedAt).lastInsertRowid),
    /** Keeps the newest `keep` attempts. */
    trimDeliveries: (keep: number): void => void st.trim.run(keep),
    /** Newest first; `limit` is the caller's to bound. */
    deliveries(query: { limit: number; event?: string; deliveryId?: string }): DeliveryRow[] {
      const where: string[] = [];
      const params: Record<string, unknown> = { limit: query.limit };
      if (query.event) {
        where.push('event = @event');
        params.event = query.event;
      }
      if (query.deliveryId) {
        where.push('delivery_id = @deliveryId');
        params.deliveryId = query.deliveryId;
      }
      const sql = `SELECT * FROM webhook_deliveries ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT @limit`;
      return db
        .prepare<Record<string, unknown>, RawDelivery>(sql)
        .all(params)
        .map((r) => ({
          id: r.id,
          deliveryId: r.delivery_id,
          eventId: r.event_id,
          event: r.event,
          url: r.url,
          attempt: r.attempt,
          status: r.status,
          error: r.error,
          startedAt: r.started_at,
          finishedAt: r.finished_at,
        }));
    },
  };
}
