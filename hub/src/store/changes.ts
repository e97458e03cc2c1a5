// Change notices between replicas (design §8): a write on one replica tells every replica (itself too) that
// `key` of `topic` changed, so each drops what it cached of it at once instead of after a TTL. Notices say
// what to read again, never what the new value is. On PostgreSQL one NOTIFY channel, heard on a connection
// of its own (store/pg-listener.ts); on SQLite an in-process emitter (one hub). A notice published inside a
// transaction is sent when it commits (and not if it rolls back); notices of different transactions arrive
// in commit order. A reconnect of the listener may have lost notices: subscribers then get `null` (drop
// everything of the topic), and keep a TTL or a re-read as the fallback for what a notice cannot promise.
//
// Every notice of a PostgreSQL cluster's committing transactions is ordered by one lock at commit: publish
// from transactions that change configuration or state (a receiver, a device, a desired state), not from
// a hot path's (telemetry ingest).

import type { SqlDatabase } from './sql.js';

/** The channel every notice goes on. */
export const CHANGES_CHANNEL = 'edgefleet_changes';

/** The topics the hub publishes (a subscriber may use any string; these are the store's own). */
export const CHANGE_TOPICS = {
  /** Key: a webhook receiver's id (added or removed through the API). */
  webhooks: 'webhooks',
  /** Key: '' — rows were added to the webhook outbox (delivery workers look for due rows). */
  webhookOutbox: 'webhook-outbox',
  /** Key: a device id — the device was added, removed, or its credentials replaced (caches of it are stale). */
  device: 'device',
  /** Key: a device id — removed, or its credentials replaced: connections made with the old ones must go. */
  deviceRevoked: 'device-revoked',
  /** Key: a device id — its stored desired state changed. */
  desired: 'desired',
  /** Key: `model@version` — a model version was released. */
  model: 'model',
} as const;

export interface Changes {
  /**
   * Tell every replica (this one too) that `key` of `topic` changed. Inside a transaction (store calls in its
   * async context): sent on commit. Resolves once sent (or queued on the transaction).
   */
  publish(topic: string, key: string): Promise<void>;
  /**
   * `fn(key)` on each notice of `topic`; `fn(null)` when notices may have been missed (drop everything).
   * Returns the unsubscribe. `fn` runs on its own turn; what it throws is logged through `onError`.
   */
  subscribe(topic: string, fn: (key: string | null) => void): () => void;
  /** Resolves once notices published from now on reach this replica's subscribers (PostgreSQL: LISTEN is up). */
  ready(): Promise<void>;
}

export function createChanges(sql: SqlDatabase, onError: (err: unknown) => void = () => undefined): Changes {
  const subscribers = new Map<string, Set<(key: string | null) => void>>();
  let listening: { ready: Promise<void>; close(): void } | null = null;
  const call = (fn: (key: string | null) => void, key: string | null) => {
    try {
      fn(key);
    } catch (err) {
      onError(err);
    }
  };
  const onPayload = (payload: string) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      return; // not one of ours
    }
    if (!Array.isArray(parsed) || typeof parsed[0] !== 'string' || typeof parsed[1] !== 'string') return;
    for (const fn of [...(subscribers.get(parsed[0]) ?? [])]) call(fn, parsed[1]);
  };
  const onReset = () => {
    for (const set of subscribers.values()) for (const fn of [...set]) call(fn, null);
  };
  const listen = () => (listening ??= sql.listen(CHANGES_CHANNEL, onPayload, onReset));
  return {
    publish: (topic, key) => sql.notify(CHANGES_CHANNEL, JSON.stringify([topic, key])),
    subscribe(topic, fn) {
      listen();
      let set = subscribers.get(topic);
      if (!set) subscribers.set(topic, (set = new Set()));
      set.add(fn);
      return () => void set.delete(fn);
    },
    ready: () => listen().ready,
  };
}
