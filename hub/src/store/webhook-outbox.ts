// SQL of the webhook outbox (design §7, §8): deliveries not yet done, durable, shared by the replicas.
// Enqueue is an INSERT (or, for a device-level delivery not yet sent, an UPDATE that folds the event into it);
// workers of any replica claim due rows with SELECT … FOR UPDATE SKIP LOCKED under a lease (SQLite: one hub,
// its serialized transaction is the lock), and settle each attempt with its delivery-log row in one
// transaction. A claimer that dies leaves its rows to be claimed again when the lease runs out: delivery is
// at least once, with the delivery id stable across attempts and claimers (receivers de-duplicate on it).

import type { SqlDatabase } from './sql.js';
import { CHANGE_TOPICS, type Changes } from './changes.js';

/** A delivery to add: one event to one receiver. */
export interface OutboxInsert {
  deliveryId: string;
  eventId: string;
  event: string;
  fleet: boolean;
  url: string;
  /** The API receiver it goes to (null: a configured URL); a removed receiver's rows go with it. */
  webhookId: string | null;
  /** Device-level deliveries: later events with this key fold into this one until it is first claimed. */
  coalesceKey: string | null;
  payload: Record<string, unknown>;
  /** The newest folded event's time, and the first's; how many events this delivery stands for. */
  at: string;
  firstAt: string;
  occurrences: number;
  dueAt: number;
}

/** The queue's bound: `maxQueue` rows in all, of which device-level ones may take `deviceMax`. */
export interface OutboxBound {
  maxQueue: number;
  deviceMax: number;
}

export type EnqueueOutcome = 'queued' | 'coalesced' | 'dropped' | 'gone';

/** A claimed row, as the worker attempts it. */
export interface OutboxRow {
  deliveryId: string;
  eventId: string;
  event: string;
  fleet: boolean;
  url: string;
  attempt: number;
  body: string;
  signature: string;
}

/** Unsealed: what a row's body is made from, the first time it is claimed. */
export interface UnsealedRow {
  eventId: string;
  event: string;
  payload: Record<string, unknown>;
  at: string;
  firstAt: string;
  occurrences: number;
}

/** Rows by class and state: claimed by this claimer, claimed by another (live lease), due, or waiting to retry. */
export interface OutboxCounts {
  fleet: number;
  device: number;
  mine: number;
  claimed: number;
  due: number;
  waiting: number;
  /** Epoch ms at which the next row becomes claimable (null: none is waiting). */
  nextAt: number | null;
}

interface RawRow {
  id: number;
  delivery_id: string;
  event_id: string;
  event: string;
  fleet: number;
  url: string;
  payload: string;
  at: string;
  first_at: string;
  occurrences: number;
  body: string | null;
  signature: string | null;
  attempt: number;
}

export type OutboxSql<L = never> = ReturnType<typeof createOutboxSql<L>>;

/** `logDelivery` appends one attempt to the delivery log (webhooks.ts), in the transaction that settles it. */
export function createOutboxSql<L>(sql: SqlDatabase, changes: Pick<Changes, 'publish'>, logDelivery: (entry: L) => Promise<number>) {
  const lock = () => (sql.dialect.name === 'postgres' ? ' FOR UPDATE SKIP LOCKED' : '');
  return {
    /**
     * Adds deliveries in order, in the current transaction or one of its own, within the bound (counted over
     * every replica's rows; on PostgreSQL two replicas enqueuing at once may each pass it by their own rows).
     */
    enqueue: (rows: readonly OutboxInsert[], bound: OutboxBound): Promise<EnqueueOutcome[]> =>
      sql.transaction(async () => {
        const out: EnqueueOutcome[] = [];
        let counts: { total: number; device: number } | null = null;
        for (const r of rows) {
          const payload = JSON.stringify(r.payload);
          // the newest occurrence's payload, counted: a receiver learns "it happened n times"
          const fold = { payload, at: r.at, n: r.occurrences, key: r.coalesceKey };
          if (r.coalesceKey !== null && (await sql.run('UPDATE webhook_outbox SET payload = @payload, at = @at, occurrences = occurrences + @n WHERE coalesce_key = @key', fold)) > 0) {
            out.push('coalesced');
            continue;
          }
          if (r.webhookId !== null && !(await sql.get('SELECT id FROM webhooks WHERE id = @id', { id: r.webhookId }))) {
            out.push('gone');
            continue;
          }
          if (counts === null) {
            const c = await sql.get<{ total: number; device: number | null }>('SELECT COUNT(*) AS total, SUM(CASE WHEN fleet = 0 THEN 1 ELSE 0 END) AS device FROM webhook_outbox');
            counts = { total: c?.total ?? 0, device: c?.device ?? 0 };
          }
          if (counts.total >= bound.maxQueue || (!r.fleet && counts.device >= bound.deviceMax)) {
            out.push('dropped');
            continue;
          }
          const got = await sql.get<{ occurrences: number }>(
            `INSERT INTO webhook_outbox (delivery_id, event_id, event, fleet, url, webhook_id, coalesce_key, payload, at, first_at, occurrences, due_at)
             VALUES (@deliveryId, @eventId, @event, @fleet, @url, @webhookId, @coalesceKey, @payload, @at, @firstAt, @occurrences, @dueAt)
             ON CONFLICT (coalesce_key) WHERE coalesce_key IS NOT NULL
             DO UPDATE SET payload = excluded.payload, at = excluded.at, occurrences = webhook_outbox.occurrences + excluded.occurrences
             RETURNING occurrences`,
            { ...r, fleet: r.fleet ? 1 : 0, payload },
          );
          if ((got?.occurrences ?? r.occurrences) > r.occurrences) out.push('coalesced'); // another replica inserted the key meanwhile
          else {
            out.push('queued');
            counts.total++;
            if (!r.fleet) counts.device++;
          }
        }
        if (out.includes('queued')) await changes.publish(CHANGE_TOPICS.webhookOutbox, '');
        return out;
      }),

    /**
     * Claims up to `limit` due rows for `by` until `now + leaseMs`, fleet-level first, then oldest first. A row
     * claimed the first time is sealed (`seal` makes its body and signature) and stops taking folded events.
     * Rows of receivers removed meanwhile are dropped.
     */
    claim: (by: string, now: number, leaseMs: number, limit: number, seal: (r: UnsealedRow) => { body: string; signature: string }): Promise<OutboxRow[]> =>
      sql.transaction(async () => {
        await sql.run('DELETE FROM webhook_outbox WHERE webhook_id IS NOT NULL AND webhook_id NOT IN (SELECT id FROM webhooks)');
        const rows = await sql.all<RawRow>(
          `SELECT id, delivery_id, event_id, event, fleet, url, payload, at, first_at, occurrences, body, signature, attempt FROM webhook_outbox
           WHERE due_at <= @now AND (claimed_until IS NULL OR claimed_until <= @now) ORDER BY fleet DESC, id LIMIT @limit${lock()}`,
          { now, limit },
        );
        const out: OutboxRow[] = [];
        for (const r of rows) {
          const sealed =
            r.body !== null && r.signature !== null
              ? { body: r.body, signature: r.signature }
              : seal({ eventId: r.event_id, event: r.event, payload: JSON.parse(r.payload) as Record<string, unknown>, at: r.at, firstAt: r.first_at, occurrences: r.occurrences });
          await sql.run('UPDATE webhook_outbox SET claimed_by = @by, claimed_until = @until, coalesce_key = NULL, body = @body, signature = @signature WHERE id = @id', {
            by,
            until: now + leaseMs,
            body: sealed.body,
            signature: sealed.signature,
            id: r.id,
          });
          out.push({ deliveryId: r.delivery_id, eventId: r.event_id, event: r.event, fleet: r.fleet === 1, url: r.url, attempt: r.attempt, ...sealed });
        }
        return out;
      }),

    /**
     * An attempt ended: its log row, and the row gone (`retryAt` null: delivered or given up) or due again at
     * `retryAt` for the next attempt. Only while `by` still holds the claim (after a lost lease the new
     * claimer owns the row). Resolves to the log row's id.
     */
    settle: (deliveryId: string, by: string, retryAt: number | null, log: L): Promise<number> =>
      sql.transaction(async () => {
        if (retryAt === null) await sql.run('DELETE FROM webhook_outbox WHERE delivery_id = @deliveryId AND claimed_by = @by', { deliveryId, by });
        else {
          await sql.run('UPDATE webhook_outbox SET attempt = attempt + 1, due_at = @retryAt, claimed_by = NULL, claimed_until = NULL WHERE delivery_id = @deliveryId AND claimed_by = @by', {
            deliveryId,
            by,
            retryAt,
          });
          // due at once (its claimer is closing): any replica may take it now
          if (retryAt <= Date.now()) await changes.publish(CHANGE_TOPICS.webhookOutbox, '');
        }
        return logDelivery(log);
      }),

    async counts(by: string, now: number): Promise<OutboxCounts> {
      const rows = await sql.all<{ fleet: number; state: string; n: number; next: number | null }>(
        `SELECT fleet, CASE WHEN claimed_until > @now THEN (CASE WHEN claimed_by = @by THEN 'mine' ELSE 'claimed' END) WHEN due_at <= @now THEN 'due' ELSE 'waiting' END AS state,
           COUNT(*) AS n, MIN(CASE WHEN claimed_until IS NOT NULL AND claimed_until > due_at THEN claimed_until ELSE due_at END) AS next
         FROM webhook_outbox GROUP BY 1, 2`,
        { now, by },
      );
      const c: OutboxCounts = { fleet: 0, device: 0, mine: 0, claimed: 0, due: 0, waiting: 0, nextAt: null };
      for (const r of rows) {
        if (r.fleet === 1) c.fleet += r.n;
        else c.device += r.n;
        if (r.state === 'mine' || r.state === 'claimed' || r.state === 'due' || r.state === 'waiting') c[r.state] += r.n;
        if (r.state !== 'due' && r.next !== null && (c.nextAt === null || r.next < c.nextAt)) c.nextAt = r.next;
      }
      return c;
    },
  };
}
