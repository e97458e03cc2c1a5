// The webhook tables (design §7): receivers added through the API, the outbox of deliveries not yet done
// (webhook-outbox.ts: durable, claimed by any replica) and the bounded delivery log.

import type { SqlDatabase, SqlValue } from './sql.js';
import { CHANGE_TOPICS, type Changes } from './changes.js';
import { createOutboxSql, type OutboxSql } from './webhook-outbox.js';

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
/** The outbox whose attempts are logged as DeliveryRows. */
export type WebhookOutbox = OutboxSql<Omit<DeliveryRow, 'id'>>;

export function createWebhookStore(sql: SqlDatabase, changes: Pick<Changes, 'publish' | 'subscribe' | 'ready'>) {
  /** Appends one attempt; returns its row id. */
  const logDelivery = async (e: Omit<DeliveryRow, 'id'>): Promise<number> =>
    (await sql.get<{ id: number }>(
      `INSERT INTO webhook_deliveries (delivery_id, event_id, event, url, attempt, status, error, started_at, finished_at)
       VALUES (@deliveryId, @eventId, @event, @url, @attempt, @status, @error, @startedAt, @finishedAt) RETURNING id`,
      { ...e },
    ))!.id;
  return {
    /** The change notices the notifier listens to (receivers changed elsewhere, outbox rows added). */
    changes,
    outbox: createOutboxSql(sql, changes, logDelivery),
    list: (): Promise<WebhookRow[]> => sql.all<WebhookRow>('SELECT * FROM webhooks ORDER BY created_at, id'),
    insert: (id: string, url: string, createdAt: string, createdBy: string): Promise<void> =>
      sql.transaction(async () => {
        await sql.run('INSERT INTO webhooks (id, url, created_at, created_by) VALUES (@id, @url, @createdAt, @createdBy)', { id, url, createdAt, createdBy });
        await changes.publish(CHANGE_TOPICS.webhooks, id);
      }),
    hasUrl: async (url: string): Promise<boolean> => (await sql.get('SELECT id FROM webhooks WHERE url = @url', { url })) !== undefined,
    /** False when there is no receiver with that id. Its deliveries not yet done go with it. */
    remove: (id: string): Promise<boolean> =>
      sql.transaction(async () => {
        if ((await sql.run('DELETE FROM webhooks WHERE id = @id', { id })) === 0) return false;
        await sql.run('DELETE FROM webhook_outbox WHERE webhook_id = @id', { id });
        await changes.publish(CHANGE_TOPICS.webhooks, id);
        return true;
      }),
    logDelivery,
    /** Keeps the newest `keep` attempts. */
    trimDeliveries: async (keep: number): Promise<void> =>
      void (await sql.run('DELETE FROM webhook_deliveries WHERE id <= (SELECT MAX(id) FROM webhook_deliveries) - @keep', { keep })),
    /** Newest first; `limit` is the caller's to bound. */
    async deliveries(query: { limit: number; event?: string; deliveryId?: string }): Promise<DeliveryRow[]> {
      const where: string[] = [];
      const params: Record<string, SqlValue> = { limit: query.limit };
      if (query.event) {
        where.push('event = @event');
        params.event = query.event;
      }
      if (query.deliveryId) {
        where.push('delivery_id = @deliveryId');
        params.deliveryId = query.deliveryId;
      }
      const rows = await sql.all<RawDelivery>(`SELECT * FROM webhook_deliveries ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT @limit`, params);
      return rows.map((r) => ({
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
