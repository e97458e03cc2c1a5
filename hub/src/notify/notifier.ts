// Outbound webhooks (design §7): signed JSON POSTs on gate failures, rollout outcomes, device rollbacks,
// drift alarms and silent devices. Deliveries live in the database's outbox (store/webhook-outbox.ts), so
// they survive a crash and any replica's workers (worker.ts) deliver them; admission (queue.ts) keeps the
// queue bounded with room for fleet-level alerts, and device-level events not yet sent fold into one
// delivery. Never on a hot path: emit() returns at once and writes its rows right after, in a batch;
// enqueue() writes them in the caller's transaction (an alarm raised, a rollout step), so they commit with it.

import { randomBytes, randomUUID } from 'node:crypto';
import { AsyncResource } from 'node:async_hooks';
import { EdgefleetError } from '@edgefleet/protocol';
import type { WebhookStore } from '../store/webhooks.js';
import type { EnqueueOutcome, OutboxInsert } from '../store/webhook-outbox.js';
import type { Notifier, WebhookEvent, WebhookTarget } from './port.js';
import { admits, classOf, coalesceKey, coalescedPayload, defaultFleetReserve, type DeliveryClass } from './queue.js';
import type { RetryPolicy } from './delivery.js';
import { checkWebhookUrl, configId } from './receivers.js';
import { signBody, type WebhookBody } from './signing.js';
import { createDeliveryWorker } from './worker.js';
import type { Metrics } from '../metrics.js';

export interface NotifierOptions {
  /** The webhook tables; URLs added through the API live there, and the outbox. */
  store: WebhookStore;
  /** Configured URLs (`--webhook`, `startHub({ webhooks })`); URLs added through the API live in the database. */
  urls?: readonly string[];
  /** Signs deliveries: the same on every replica (any replica may deliver an event another one emitted). */
  secret: string;
  fetch?: typeof fetch;
  retry?: RetryPolicy;
  /** The `hub` field of every body. */
  hub?: string | (() => string);
  /** This replica's id, in the claims of its workers. */
  replica?: string;
  /** Outstanding deliveries (every replica's: queued, waiting to retry, in flight) above which new ones are dropped and counted (default 1000). */
  maxQueue?: number;
  /** Of those, slots only fleet-level events (gates, rollouts, drift) may take (default a quarter; queue.ts). */
  reserveFleet?: number;
  /** Deliveries in flight at once on this replica (default 4). */
  concurrency?: number;
  /** One attempt's time limit (default 10 s). */
  timeoutMs?: number;
  /** A claim's lease (default 3 × timeoutMs): a claimer gone longer than this has its rows claimed by others. */
  leaseMs?: number;
  /** How often workers look for due rows without being told (default 1 s). */
  pollMs?: number;
  /** close() waits this long for deliveries in flight before aborting them (default 2 s); they stay in the outbox. */
  closeWaitMs?: number;
  /** The delivery log keeps the newest this many attempts (default 100k). */
  keepDeliveries?: number;
  log?: (line: string) => void;
  now?: () => Date;
  /** Receivers added through the API are read again after this long even without a change notice (default 5 s). */
  targetsTtlMs?: number;
}

export function createNotifier(options: NotifierOptions): Notifier {
  const { store: st, secret } = options;
  const maxQueue = options.maxQueue ?? 1000;
  const admission = { maxQueue, reserveFleet: options.reserveFleet ?? defaultFleetReserve(maxQueue) };
  const bound = { maxQueue, deviceMax: maxQueue - Math.min(maxQueue, admission.reserveFleet) };
  const timeoutMs = options.timeoutMs ?? 10_000;
  const keepDeliveries = options.keepDeliveries ?? 100_000;
  const log = options.log ?? (() => undefined);
  const now = options.now ?? (() => new Date());
  const hubName = () => (typeof options.hub === 'function' ? options.hub() : (options.hub ?? ''));
  const configured = [...new Set((options.urls ?? []).map(checkWebhookUrl))];
  const counts = { dropped: 0, droppedFleet: 0, droppedDevice: 0, coalesced: 0 };
  let closing = false;

  const worker = createDeliveryWorker({
    outbox: st.outbox,
    claimer: `${options.replica || 'hub'}:${randomUUID().slice(0, 8)}`,
    // fixed at the first claim: every retry, by any replica, sends the identical signed bytes
    seal: (r) => {
      const payload = coalescedPayload(r.payload, r.occurrences, r.firstAt);
      const body = JSON.stringify({ id: r.eventId, event: r.event as WebhookEvent, at: r.at, hub: hubName(), payload } satisfies WebhookBody);
      return { body, signature: signBody(secret, body) };
    },
    fetch: options.fetch ?? fetch,
    retry: { attempts: options.retry?.attempts ?? 5, baseMs: options.retry?.baseMs ?? 1000, maxMs: options.retry?.maxMs ?? 60_000 },
    concurrency: Math.max(1, options.concurrency ?? 4),
    timeoutMs,
    leaseMs: options.leaseMs ?? 3 * timeoutMs,
    pollMs: options.pollMs ?? 1000,
    closeWaitMs: options.closeWaitMs ?? 2000,
    keepDeliveries,
    trimDeliveries: (keep) => st.trimDeliveries(keep),
    now,
    log,
  });

  const fromConfig = (): WebhookTarget[] => configured.map((url) => ({ id: configId(url), url, source: 'config' as const, createdAt: null, createdBy: null }));
  const readApiTargets = async (): Promise<WebhookTarget[]> =>
    (await st.list()).map((r) => ({ id: r.id, url: r.url, source: 'api' as const, createdAt: r.created_at, createdBy: r.created_by }));
  // emit() never waits on the database: it sends to the receivers as last read. A change notice (a receiver
  // added or removed on any replica) marks them stale and emit() waits for the read that follows; without
  // notices (a listener reconnecting) they are read again when older than the TTL
  const ttlMs = options.targetsTtlMs ?? 5_000;
  let apiTargets: WebhookTarget[] | null = null;
  let readAt = 0;
  let generation = 0;
  let stale = true;
  let reading: Promise<void> | null = null;
  const reload = (): Promise<void> =>
    (reading ??= (async () => {
      try {
        for (;;) {
          const g = generation;
          apiTargets = await readApiTargets();
          readAt = Date.now();
          if (g === generation) break; // else a notice came during the read: read again
        }
        stale = false;
      } catch (err) {
        log(`webhook receivers: ${String(err)}`);
      } finally {
        reading = null;
      }
    })());
  const detached = new AsyncResource('edgefleet-webhook-notifier');
  const unsubscribe = [
    st.changes.subscribe('webhooks', () => {
      generation++;
      stale = true;
      void detached.runInAsyncScope(reload);
    }),
    st.changes.subscribe('webhook-outbox', () => worker.wake()),
  ];

  const drop = (cls: DeliveryClass) => {
    counts.dropped++;
    if (cls === 'fleet') counts.droppedFleet++;
    else counts.droppedDevice++;
    if (counts.dropped === 1 || counts.dropped % 100 === 0) {
      log(`webhook queue full (${maxQueue}, ${admission.reserveFleet} kept for fleet events): ${counts.droppedFleet} fleet and ${counts.droppedDevice} device deliveries dropped so far`);
    }
  };
  /** What the database decided for rows this replica had counted as new. */
  const account = (rows: readonly OutboxInsert[], outcomes: readonly EnqueueOutcome[]) => {
    rows.forEach((r, i) => {
      if (outcomes[i] === 'coalesced') counts.coalesced++;
      else if (outcomes[i] === 'dropped') drop(r.fleet ? 'fleet' : 'device');
    });
  };
  const rowFor = (event: WebhookEvent, payload: Record<string, unknown>, t: WebhookTarget, eventId: string, at: string): OutboxInsert => ({
    deliveryId: randomUUID(),
    eventId,
    event,
    fleet: classOf(event) === 'fleet',
    url: t.url,
    webhookId: t.source === 'api' ? t.id : null,
    coalesceKey: coalesceKey(event, payload, t.url),
    payload,
    at,
    firstAt: at,
    occurrences: 1,
    dueAt: Date.now(),
  });

  // emitted rows wait here until the write that follows (one transaction per batch, in emit order)
  let staged: OutboxInsert[] = [];
  const stagedKeys = new Map<string, OutboxInsert>();
  let writing: Promise<void> | null = null;
  let writingRows: readonly OutboxInsert[] = [];
  const unwritten: Record<DeliveryClass, number> = { fleet: 0, device: 0 }; // staged and being written
  const write = (): void => {
    if (writing || staged.length === 0) return;
    const batch = staged;
    staged = [];
    stagedKeys.clear();
    writingRows = batch;
    writing = detached
      .runInAsyncScope(() => st.outbox.enqueue(batch, bound))
      .then((outcomes) => account(batch, outcomes))
      .catch((err: unknown) => {
        log(`webhook outbox: ${batch.length} deliveries not written: ${String(err)}`);
        for (const r of batch) drop(r.fleet ? 'fleet' : 'device');
      })
      .then(() => worker.refresh())
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        writing = null;
        for (const r of writingRows) unwritten[r.fleet ? 'fleet' : 'device']--;
        writingRows = [];
        worker.wake();
        write();
      });
  };

  const emitNow = (event: WebhookEvent, payload: Record<string, unknown>): void => {
    if (closing) return;
    try {
      if (Date.now() - readAt > ttlMs) void detached.runInAsyncScope(reload);
      const list = [...fromConfig(), ...(apiTargets ?? [])];
      if (list.length === 0) return;
      const eventId = randomUUID();
      const at = now().toISOString();
      const cls = classOf(event);
      const known = worker.counts();
      for (const t of list) {
        const row = rowFor(event, payload, t, eventId, at);
        const folded = row.coalesceKey === null ? undefined : stagedKeys.get(row.coalesceKey);
        if (folded) {
          folded.occurrences++;
          folded.payload = payload;
          folded.at = at;
          counts.coalesced++;
          continue;
        }
        // as far as this replica knows: the outbox as last read plus what it has not written yet (the
        // database checks the bound again when the rows go in)
        if (!admits(admission, cls, { fleet: known.fleet + unwritten.fleet, device: known.device + unwritten.device })) {
          drop(cls);
          continue;
        }
        staged.push(row);
        unwritten[cls]++;
        if (row.coalesceKey !== null) stagedKeys.set(row.coalesceKey, row);
      }
      // written after the caller's synchronous work is done, outside any transaction of the caller's
      queueMicrotask(write);
    } catch (err) {
      log(`webhook ${event}: ${String(err)}`);
    }
  };

  // events emitted before the receivers were read (or while a notice says they changed) wait for that read, in order
  let early: Promise<void> | null = null;
  return {
    emit(event, payload) {
      if (apiTargets === null || stale || early) {
        const p: Promise<void> = (early ?? detached.runInAsyncScope(reload)).then(() => {
          emitNow(event, payload);
          if (early === p) early = null;
        });
        early = p;
        return;
      }
      emitNow(event, payload);
    },
    async enqueue(event, payload) {
      if (closing) return;
      // read in the caller's transaction: the receivers as it sees them, no wait on another reader
      const list = [...fromConfig(), ...(await readApiTargets())];
      if (list.length === 0) return;
      const eventId = randomUUID();
      const at = now().toISOString();
      const rows = list.map((t) => rowFor(event, payload, t, eventId, at));
      account(rows, await st.outbox.enqueue(rows, bound));
    },
    async close() {
      if (closing) return;
      closing = true;
      for (const u of unsubscribe) u();
      await early;
      await writing;
      write();
      await writing;
      // deliveries in flight get a short grace period; what is left stays in the outbox
      await worker.close();
    },
    targets: async () => [...fromConfig(), ...(await readApiTargets())],
    async add(url, actor) {
      const u = checkWebhookUrl(url);
      if (configured.includes(u) || (await st.hasUrl(u))) throw new EdgefleetError('CONFLICT', `webhook ${u} is already configured`);
      const createdAt = now().toISOString();
      const t: WebhookTarget = { id: `wh-${randomBytes(5).toString('hex')}`, url: u, source: 'api', createdAt, createdBy: actor };
      try {
        await st.insert(t.id, t.url, createdAt, actor);
      } catch (err) {
        // the URL is unique: another replica added it between the check and this insert
        if (await st.hasUrl(u)) throw new EdgefleetError('CONFLICT', `webhook ${u} is already configured`);
        throw err;
      }
      generation++;
      await reload();
      return t;
    },
    async remove(id) {
      const removed = await st.remove(id);
      generation++;
      await reload();
      return removed;
    },
    deliveries(query = {}) {
      const limit = Math.min(Math.max(1, query.limit ?? 100), 1000);
      return st.deliveries({ ...query, limit });
    },
    stats: () => {
      const c = worker.counts();
      return { queued: c.due + staged.length + writingRows.length, waiting: c.waiting, inFlight: worker.inFlight() + c.claimed, ...worker.outcomes, ...counts };
    },
    async idle() {
      while (early || writing || staged.length > 0) {
        await early;
        write();
        await writing;
      }
      await worker.idle();
    },
    ready: async () => {
      await st.changes.ready();
      if (apiTargets === null || stale) await reload();
      await early;
      await worker.refresh();
      worker.wake(); // rows left from before this start, or another replica's
    },
  };
}

/** The notifier's counters on the hub's /metrics: deliveries by outcome, drops by class, coalesced events (this replica's, since start). */
export function notifierGauges(metrics: Metrics, notifier: Notifier): void {
  metrics.counter('edgefleet_webhook_deliveries_total', 'Webhook deliveries by outcome since start (dropped: queue full).', () => {
    const s = notifier.stats();
    return (['delivered', 'failed', 'dropped', 'abandoned'] as const).map((k) => ({ labels: { outcome: k }, value: s[k] }));
  });
  metrics.counter('edgefleet_webhook_dropped_deliveries_total', 'Webhook deliveries dropped since start (queue full), by class: fleet (gates, rollouts, drift) or device.', () => {
    const s = notifier.stats();
    return [{ labels: { class: 'fleet' }, value: s.droppedFleet }, { labels: { class: 'device' }, value: s.droppedDevice }];
  });
  metrics.counter('edgefleet_webhook_coalesced_events_total', 'Device-level webhook events folded into a pending delivery of the same (device, event) since start.', () => [
    { labels: {}, value: notifier.stats().coalesced },
  ]);
}
