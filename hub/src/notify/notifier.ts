// Outbound webhooks (design §7): signed JSON POSTs on gate failures, rollout outcomes, device rollbacks,
// drift alarms and silent devices; queued by class (queue.ts), retried with backoff (delivery.ts), logged
// in SQLite (store/webhooks.ts), never on a hot path: emit() returns at once.

import { randomBytes, randomUUID } from 'node:crypto';
import { EdgefleetError } from '@edgefleet/protocol';
import type { WebhookStore } from '../store/webhooks.js';
import type { Notifier, WebhookEvent, WebhookTarget } from './port.js';
import { admits, classOf, coalesceKey, coalescedPayload, createClassQueue, defaultFleetReserve, type DeliveryClass } from './queue.js';
import { backoff, delivered, postDelivery, retryable, type RetryPolicy } from './delivery.js';
import { checkWebhookUrl, configId } from './receivers.js';
import { signBody, type WebhookBody } from './signing.js';
import type { Metrics } from '../metrics.js';

export interface NotifierOptions {
  /** The webhook tables; URLs added through the API live there. */
  store: WebhookStore;
  /** Configured URLs (`--webhook`, `startHub({ webhooks })`); URLs added through the API live in the database. */
  urls?: readonly string[];
  secret: string;
  fetch?: typeof fetch;
  retry?: RetryPolicy;
  /** The `hub` field of every body. */
  hub?: string | (() => string);
  /** Outstanding deliveries (queued, waiting to retry, in flight) above which new ones are dropped and counted (default 1000). */
  maxQueue?: number;
  /** Of those, slots only fleet-level events (gates, rollouts, drift) may take (default a quarter; queue.ts). */
  reserveFleet?: number;
  /** Deliveries in flight at once (default 4). */
  concurrency?: number;
  /** One attempt's time limit (default 10 s). */
  timeoutMs?: number;
  /** close() waits this long for outstanding deliveries before aborting them (default 2 s). */
  closeWaitMs?: number;
  /** The delivery log keeps the newest this many attempts (default 100k). */
  keepDeliveries?: number;
  log?: (line: string) => void;
  now?: () => Date;
  /** How long the receivers added through the API are cached before they are read again (default 5 s; other replicas add them too). */
  targetsTtlMs?: number;
}

interface Job {
  deliveryId: string;
  /** The id of the first event folded into this delivery. */
  eventId: string;
  event: WebhookEvent;
  cls: DeliveryClass;
  url: string;
  /** Set while the delivery is queued and not yet attempted: later events with this key fold into it. */
  key: string | null;
  payload: Record<string, unknown>;
  at: string;
  firstAt: string;
  occurrences: number;
  /** Fixed at the first attempt: every retry sends the identical signed bytes. */
  body: string | null;
  signature: string | null;
  attempt: number;
}
type SealedJob = Job & { body: string; signature: string };

export function createNotifier(options: NotifierOptions): Notifier {
  const { store: st, secret } = options;
  const doFetch = options.fetch ?? fetch;
  const retry = { attempts: options.retry?.attempts ?? 5, baseMs: options.retry?.baseMs ?? 1000, maxMs: options.retry?.maxMs ?? 60_000 };
  const maxQueue = options.maxQueue ?? 1000;
  const admission = { maxQueue, reserveFleet: options.reserveFleet ?? defaultFleetReserve(maxQueue) };
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const closeWaitMs = options.closeWaitMs ?? 2000;
  const keepDeliveries = options.keepDeliveries ?? 100_000;
  const log = options.log ?? (() => undefined);
  const now = options.now ?? (() => new Date());
  const hubName = () => (typeof options.hub === 'function' ? options.hub() : (options.hub ?? ''));
  const configured = [...new Set((options.urls ?? []).map(checkWebhookUrl))];

  const queue = createClassQueue<Job>();
  const pending = new Map<string, Job>(); // coalescing key → its queued, not yet attempted delivery
  const waiting = new Map<NodeJS.Timeout, Job>();
  const inFlight = new Map<Promise<void>, { controller: AbortController; job: Job }>();
  const counts = { delivered: 0, failed: 0, dropped: 0, droppedFleet: 0, droppedDevice: 0, coalesced: 0, abandoned: 0 };
  let closing = false;
  let idleWaiters: Array<() => void> = [];

  const outstanding = () => queue.length + waiting.size + inFlight.size;
  const outstandingByClass = (): Record<DeliveryClass, number> => {
    const n = { fleet: 0, device: 0 };
    for (const j of queue) n[j.cls]++;
    for (const j of waiting.values()) n[j.cls]++;
    for (const f of inFlight.values()) n[f.job.cls]++;
    return n;
  };
  const seal = (job: Job): SealedJob => {
    if (job.key !== null) {
      if (pending.get(job.key) === job) pending.delete(job.key);
      job.key = null;
    }
    if (job.body === null || job.signature === null) {
      const payload = coalescedPayload(job.payload, job.occurrences, job.firstAt);
      job.body = JSON.stringify({ id: job.eventId, event: job.event, at: job.at, hub: hubName(), payload } satisfies WebhookBody);
      job.signature = signBody(secret, job.body);
    }
    return job as SealedJob;
  };
  const settleIdle = () => {
    if (outstanding() > 0) return;
    const w = idleWaiters;
    idleWaiters = [];
    for (const f of w) f();
  };

  const fromConfig = (): WebhookTarget[] => configured.map((url) => ({ id: configId(url), url, source: 'config' as const, createdAt: null, createdBy: null }));
  const readApiTargets = async (): Promise<WebhookTarget[]> =>
    (await st.list()).map((r) => ({ id: r.id, url: r.url, source: 'api' as const, createdAt: r.created_at, createdBy: r.created_by }));
  // emit() never waits on the database: it sends to the receivers as last read, read again when older than
  // the TTL (another replica may have added or removed one) and at once after this hub changed them
  const ttlMs = options.targetsTtlMs ?? 5_000;
  let apiTargets: WebhookTarget[] | null = null;
  let readAt = 0;
  let reading: Promise<void> | null = null;
  const reload = (): Promise<void> =>
    (reading ??= readApiTargets()
      .then((t) => {
        apiTargets = t;
        readAt = Date.now();
      })
      .catch((err: unknown) => log(`webhook receivers: ${String(err)}`))
      .finally(() => (reading = null)));
  void reload();

  // one row at a time, in the order the attempts ended: a retry's row never gets an id before its attempt's
  const logging = new Set<Promise<void>>();
  let logTail: Promise<void> = Promise.resolve();
  const record = (job: Job, status: number | null, error: string | null, startedAt: string): void => {
    const { deliveryId, eventId, event, url, attempt } = job;
    const finishedAt = now().toISOString();
    const p = logTail.then(async () => {
      const id = await st.logDelivery({ deliveryId, eventId, event, url, attempt, status, error, startedAt, finishedAt });
      // the log is bounded: now and then the oldest attempts beyond `keepDeliveries` go
      if (id % Math.min(1000, keepDeliveries) === 0) await st.trimDeliveries(keepDeliveries);
    })
      // the database is closed or busy: the delivery itself is unaffected
      .catch((err: unknown) => log(`webhook log ${job.deliveryId}: ${String(err)}`))
      .finally(() => logging.delete(p));
    logTail = p;
    logging.add(p);
  };

  const attempt = async (job: SealedJob, controller: AbortController): Promise<void> => {
    const startedAt = now().toISOString();
    const { status, error } = await postDelivery(doFetch, job, controller, timeoutMs);
    if (delivered(status)) {
      record(job, status, null, startedAt);
      counts.delivered++;
      return;
    }
    const again = retryable(status);
    const httpText = status === null ? (error ?? 'no response') : `HTTP ${status}`;
    if (again && job.attempt < retry.attempts && !closing) {
      const delay = backoff(retry, job.attempt);
      record(job, status, `${httpText}; retry ${job.attempt + 1}/${retry.attempts} in ${delay} ms`, startedAt);
      const next: SealedJob = { ...job, attempt: job.attempt + 1 };
      const t = setTimeout(() => {
        waiting.delete(t);
        queue.push(next);
        pump();
      }, delay);
      t.unref?.();
      waiting.set(t, next);
      return;
    }
    const why = !again ? 'not retried (client error)' : closing ? 'hub closing' : `gave up after ${job.attempt} attempts`;
    record(job, status, `${httpText}; ${why}`, startedAt);
    counts.failed++;
    log(`webhook ${job.event} to ${job.url}: ${httpText}; ${why}`);
  };

  const pump = () => {
    while (inFlight.size < concurrency && queue.length > 0) {
      const job = seal(queue.shift()!);
      const controller = new AbortController();
      const p: Promise<void> = attempt(job, controller)
        .catch((err: unknown) => log(`webhook ${job.deliveryId}: ${String(err)}`))
        .finally(() => {
          inFlight.delete(p);
          pump();
          settleIdle();
        });
      inFlight.set(p, { controller, job });
    }
    settleIdle();
  };

  const emitNow = (event: WebhookEvent, payload: Record<string, unknown>): void => {
      if (closing) return;
      try {
        if (Date.now() - readAt > ttlMs) void reload();
        const list = [...fromConfig(), ...(apiTargets ?? [])];
        if (list.length === 0) return;
        const eventId = randomUUID();
        const at = now().toISOString();
        const cls = classOf(event);
        for (const t of list) {
          const key = coalesceKey(event, payload, t.url);
          const folded = key === null ? undefined : pending.get(key);
          if (folded) {
            // the newest occurrence's payload, with the count: a receiver learns "it happened n times"
            folded.occurrences++;
            folded.payload = payload;
            folded.at = at;
            counts.coalesced++;
            continue;
          }
          if (!admits(admission, cls, outstandingByClass())) {
            counts.dropped++;
            if (cls === 'fleet') counts.droppedFleet++;
            else counts.droppedDevice++;
            if (counts.dropped === 1 || counts.dropped % 100 === 0) {
              log(`webhook queue full (${maxQueue}, ${admission.reserveFleet} kept for fleet events): ${counts.droppedFleet} fleet and ${counts.droppedDevice} device deliveries dropped so far`);
            }
            continue;
          }
          const job: Job = { deliveryId: randomUUID(), eventId, event, cls, url: t.url, key, payload, at, firstAt: at, occurrences: 1, body: null, signature: null, attempt: 1 };
          queue.push(job);
          if (key !== null) pending.set(key, job);
        }
        // start deliveries after the caller's synchronous work is done
        queueMicrotask(pump);
      } catch (err) {
        log(`webhook ${event}: ${String(err)}`);
      }
  };

  // events emitted before the receivers were first read wait for that read, in order
  let early: Promise<void> | null = null;
  return {
    emit(event, payload) {
      if (apiTargets === null || early) {
        const p: Promise<void> = (early ?? reload()).then(() => {
          emitNow(event, payload);
          if (early === p) early = null;
        });
        early = p;
        return;
      }
      emitNow(event, payload);
    },
    async close() {
      if (closing) return;
      closing = true;
      // retries not yet due are given up; queued and in-flight deliveries get a short grace period
      for (const [t, job] of waiting) {
        clearTimeout(t);
        record(job, null, 'not attempted: hub closing', now().toISOString());
        counts.abandoned++;
      }
      waiting.clear();
      pump();
      if (outstanding() > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((r) => idleWaiters.push(r)),
          new Promise<void>((r) => (timer = setTimeout(r, closeWaitMs))),
        ]);
        clearTimeout(timer);
      }
      counts.abandoned += queue.length;
      queue.clear();
      pending.clear();
      for (const f of inFlight.values()) f.controller.abort(new Error('aborted: hub closing'));
      await Promise.allSettled([...inFlight.keys()]);
      await Promise.allSettled([...logging, early]); // the delivery log's last rows, before the database closes
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
      await reload();
      return t;
    },
    async remove(id) {
      const removed = await st.remove(id);
      await reload();
      return removed;
    },
    deliveries(query = {}) {
      const limit = Math.min(Math.max(1, query.limit ?? 100), 1000);
      return st.deliveries({ ...query, limit });
    },
    stats: () => ({ queued: queue.length, waiting: waiting.size, inFlight: inFlight.size, ...counts }),
    async idle() {
      if (outstanding() > 0) await new Promise<void>((r) => idleWaiters.push(r));
      await Promise.allSettled([...logging]); // and their rows are in the delivery log
    },
    ready: async () => {
      if (apiTargets === null) await reload();
      await early;
    },
  };
}

/** The notifier's gauges on the hub's /metrics: deliveries by outcome, drops by class, coalesced events. */
export function notifierGauges(metrics: Metrics, notifier: Notifier): void {
  metrics.gauge('edgefleet_webhook_deliveries', 'Webhook deliveries by outcome since start (dropped: queue full).', () => {
    const s = notifier.stats();
    return (['delivered', 'failed', 'dropped', 'abandoned'] as const).map((k) => ({ labels: { outcome: k }, value: s[k] }));
  });
  metrics.gauge('edgefleet_webhook_dropped_deliveries', 'Webhook deliveries dropped since start (queue full), by class: fleet (gates, rollouts, drift) or device.', () => {
    const s = notifier.stats();
    return [{ labels: { class: 'fleet' }, value: s.droppedFleet }, { labels: { class: 'device' }, value: s.droppedDevice }];
  });
  metrics.gauge('edgefleet_webhook_coalesced_events', 'Device-level webhook events folded into a pending delivery of the same (device, event) since start.', () => [
    { labels: {}, value: notifier.stats().coalesced },
  ]);
}
