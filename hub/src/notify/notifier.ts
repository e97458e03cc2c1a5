// Outbound webhooks (design §7): signed JSON POSTs on gate failures, rollout outcomes,
// device rollbacks, drift alarms and silent devices; retried with backoff, logged in SQLite, never on a hot path.
//
// Receivers verify a delivery like this (Node; any language with HMAC-SHA256 works the same way):
//
//   const expected = 'sha256=' + createHmac('sha256', SECRET).update(rawBody).digest('hex');
//   const given = req.headers['x-edgefleet-signature'];
//   ok = given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
//
// Sign the raw request bytes exactly as received (before any JSON parsing). The body's `at` lets a receiver
// refuse old replays; `X-Edgefleet-Delivery` stays the same across retries of one delivery (de-duplicate on it).

import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Hono, Context } from 'hono';
import { z } from 'zod';
import { EdgefleetError } from '@edgefleet/protocol';
import type { Db, Role } from '../store/db.js';
import type { HubContext } from '../context.js';
import { bearerPrincipal, roleAtLeast, type Principal } from '../http/auth.js';
import type { RouteDoc } from '../http/openapi.js';
import { admits, classOf, coalesceKey, coalescedPayload, createClassQueue, defaultFleetReserve, type DeliveryClass } from './queue.js';

export const WEBHOOK_EVENTS = [
  'gate-failed',
  'rollout-paused',
  'rollout-rolled-back',
  'rollout-completed',
  'device-rolled-back',
  'drift-alarm',
  'device-silent',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export const SIGNATURE_HEADER = 'X-Edgefleet-Signature';
export const EVENT_HEADER = 'X-Edgefleet-Event';
export const DELIVERY_HEADER = 'X-Edgefleet-Delivery';

/** What a receiver gets (the raw bytes are what is signed). */
export interface WebhookBody {
  /** Event id: one per emit, shared by the deliveries of that event to every URL. */
  id: string;
  event: WebhookEvent;
  at: string;
  /** The hub's public URL. */
  hub: string;
  payload: Record<string, unknown>;
}

export interface RetryPolicy {
  /** Attempts per delivery including the first (default 5). */
  attempts: number;
  /** First backoff; doubles per attempt, with jitter (default 1000 ms). */
  baseMs: number;
  /** Cap of one backoff (default 60 s). */
  maxMs?: number;
}

export interface NotifierOptions {
  db: Db;
  /** Configured URLs (`--webhook`, `startHub({ webhooks })`); URLs added through the API live in SQLite. */
  urls?: readonly string[];
  secret: string;
  fetch?: typeof fetch;
  retry?: RetryPolicy;
  /** The `hub` field of every body. */
  hub?: string | (() => string);
  /** Outstanding deliveries (queued, waiting to retry, in flight) above which new ones are dropped and counted (default 1000). */
  maxQueue?: number;
  /** Of those, slots only fleet-level events (gates, rollouts, drift) may take (default a quarter; webhook-queue.ts). */
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
}

export interface WebhookTarget {
  /** `config` targets come from the hub's options and cannot be removed through the API. */
  id: string;
  url: string;
  source: 'config' | 'api';
  createdAt: string | null;
  createdBy: string | null;
}

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

export interface NotifierStats {
  queued: number;
  waiting: number;
  inFlight: number;
  delivered: number;
  failed: number;
  /** Deliveries refused because the queue was full (design: hot paths never wait on a receiver). */
  dropped: number;
  /** `dropped` by class: fleet-level events (gates, rollouts, drift) and device-level ones. */
  droppedFleet: number;
  droppedDevice: number;
  /** Device-level events folded into a delivery of the same (device, event) not yet sent. */
  coalesced: number;
  abandoned: number;
}

export interface Notifier {
  /** Queue one event for every configured URL; returns at once, never throws. */
  emit(event: WebhookEvent, payload: Record<string, unknown>): void;
  /** Wait briefly for outstanding deliveries, then abort the rest. */
  close(): Promise<void>;
  targets(): WebhookTarget[];
  /** Persist a URL (API); throws CONFLICT when it is already configured. */
  add(url: string, actor: string): WebhookTarget;
  /** Remove an API-added URL; false when there is none with that id. */
  remove(id: string): boolean;
  deliveries(query?: { limit?: number; event?: string; deliveryId?: string }): DeliveryRow[];
  stats(): NotifierStats;
  /** Resolves when nothing is queued, waiting or in flight. */
  idle(): Promise<void>;
}

export function signBody(secret: string, body: string | Uint8Array): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
}

/** Timing-safe check of an `X-Edgefleet-Signature` header against the raw body. */
export function verifySignature(secret: string, body: string | Uint8Array, header: string | null | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(signBody(secret, body));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const WebhookUrl = z
  .string()
  .max(2048)
  .refine((s) => {
    try {
      const u = new URL(s);
      // fetch refuses URLs with credentials; anything but http(s) is not a webhook
      return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password;
    } catch {
      return false;
    }
  }, 'a webhook URL is http(s)://host[:port]/path without credentials');

export function checkWebhookUrl(url: string): string {
  const r = WebhookUrl.safeParse(url);
  if (!r.success) throw new EdgefleetError('BAD_INPUT', `bad webhook URL ${JSON.stringify(url.slice(0, 200))}: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data;
}

/**
 * The secret that signs deliveries: `given` (flag or environment) wins; otherwise `<dataDir>/webhook-secret`,
 * created on first start with 32 random bytes and mode 0600 (design §2: secrets in the data dir are 0600).
 */
export function loadOrCreateWebhookSecret(dataDir: string, given?: string): { secret: string; created: boolean; file: string } {
  const file = join(dataDir, 'webhook-secret');
  if (given) return { secret: given, created: false, file };
  if (existsSync(file)) {
    const secret = readFileSync(file, 'utf8').trim();
    if (secret) return { secret, created: false, file };
  }
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return { secret, created: true, file };
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

const configId = (url: string) => `cfg-${createHmac('sha256', 'edgefleet-webhook-id').update(url).digest('hex').slice(0, 10)}`;

export function createNotifier(options: NotifierOptions): Notifier {
  const { db, secret } = options;
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

  const st = {
    list: db.prepare<[], { id: string; url: string; created_at: string; created_by: string }>('SELECT * FROM webhooks ORDER BY created_at, id'),
    insert: db.prepare('INSERT INTO webhooks (id, url, created_at, created_by) VALUES (?, ?, ?, ?)'),
    byUrl: db.prepare<[string], { id: string }>('SELECT id FROM webhooks WHERE url = ?'),
    remove: db.prepare('DELETE FROM webhooks WHERE id = ?'),
    log: db.prepare(
      `INSERT INTO webhook_deliveries (delivery_id, event_id, event, url, attempt, status, error, started_at, finished_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    trim: db.prepare('DELETE FROM webhook_deliveries WHERE id <= (SELECT MAX(id) FROM webhook_deliveries) - ?'),
  };

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

  const targets = (): WebhookTarget[] => [
    ...configured.map((url) => ({ id: configId(url), url, source: 'config' as const, createdAt: null, createdBy: null })),
    ...st.list.all().map((r) => ({ id: r.id, url: r.url, source: 'api' as const, createdAt: r.created_at, createdBy: r.created_by })),
  ];

  const record = (job: Job, status: number | null, error: string | null, startedAt: string) => {
    try {
      const id = Number(st.log.run(job.deliveryId, job.eventId, job.event, job.url, job.attempt, status, error, startedAt, now().toISOString()).lastInsertRowid);
      // the log is bounded: now and then the oldest attempts beyond `keepDeliveries` go
      if (id % Math.min(1000, keepDeliveries) === 0) st.trim.run(keepDeliveries);
    } catch (err) {
      // the database is closed or busy: the delivery itself is unaffected
      log(`webhook log ${job.deliveryId}: ${String(err)}`);
    }
  };

  const backoff = (attempt: number): number => {
    // exponential with jitter ("equal jitter"): half fixed, half random, so retries of many
    // deliveries after one receiver outage do not arrive in lockstep
    const d = Math.min(retry.maxMs, retry.baseMs * 2 ** (attempt - 1));
    return Math.round(d / 2 + Math.random() * (d / 2));
  };

  const attempt = async (job: SealedJob, controller: AbortController): Promise<void> => {
    const startedAt = now().toISOString();
    const timer = setTimeout(() => controller.abort(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    let status: number | null = null;
    let error: string | null = null;
    try {
      const res = await doFetch(job.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'edgefleet-hub',
          [SIGNATURE_HEADER]: job.signature,
          [EVENT_HEADER]: job.event,
          [DELIVERY_HEADER]: job.deliveryId,
        },
        body: job.body,
        redirect: 'manual',
        signal: controller.signal,
      });
      status = res.status;
      await res.body?.cancel().catch(() => undefined); // the receiver's answer is not read
    } catch (err) {
      const reason = controller.signal.aborted ? controller.signal.reason : err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      error = (reason instanceof Error ? reason.message : String(reason)) + (cause?.code ? ` (${cause.code})` : '');
    } finally {
      clearTimeout(timer);
    }
    if (status !== null && status >= 200 && status < 300) {
      record(job, status, null, startedAt);
      counts.delivered++;
      return;
    }
    // network errors and 5xx are worth another try; a 4xx says the request itself is refused
    // (408 and 429 are the receiver asking for time, so they are retried too)
    const retryable = status === null || status >= 500 || status === 408 || status === 429;
    const httpText = status === null ? (error ?? 'no response') : `HTTP ${status}`;
    if (retryable && job.attempt < retry.attempts && !closing) {
      const delay = backoff(job.attempt);
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
    const why = !retryable ? 'not retried (client error)' : closing ? 'hub closing' : `gave up after ${job.attempt} attempts`;
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

  return {
    emit(event, payload) {
      if (closing) return;
      try {
        const list = targets();
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
        // start deliveries after the caller's synchronous work (often a SQLite transaction) is done
        queueMicrotask(pump);
      } catch (err) {
        log(`webhook ${event}: ${String(err)}`);
      }
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
    },
    targets,
    add(url, actor) {
      const u = checkWebhookUrl(url);
      if (configured.includes(u) || st.byUrl.get(u)) throw new EdgefleetError('CONFLICT', `webhook ${u} is already configured`);
      const t: WebhookTarget = { id: `wh-${randomBytes(5).toString('hex')}`, url: u, source: 'api', createdAt: now().toISOString(), createdBy: actor };
      st.insert.run(t.id, t.url, t.createdAt, actor);
      return t;
    },
    remove(id) {
      return st.remove.run(id).changes > 0;
    },
    deliveries(query = {}) {
      const limit = Math.min(Math.max(1, query.limit ?? 100), 1000);
      const where: string[] = [];
      const params: Record<string, unknown> = { limit };
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
    stats: () => ({ queued: queue.length, waiting: waiting.size, inFlight: inFlight.size, ...counts }),
    idle: () => (outstanding() === 0 ? Promise.resolve() : new Promise<void>((r) => idleWaiters.push(r))),
  };
}

/** `https://host:port/…`: the receiver's origin without path or query. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname === '/' && !u.search ? u.origin + '/' : `${u.origin}/…`;
  } catch {
    return '…';
  }
}

export const WebhookCreate = z.object({ url: z.string() });

/** The routes mountWebhookApi adds, for the OpenAPI document. */
export const WEBHOOK_ROUTE_DOCS: RouteDoc[] = [
  { method: 'get', path: '/webhooks/deliveries', summary: 'Webhook delivery log, newest first: one row per attempt (?limit, ?event, ?delivery)', role: 'viewer' },
  { method: 'get', path: '/webhooks', summary: 'Webhook receivers (configured and API-added) and the event names', role: 'admin' },
  { method: 'post', path: '/webhooks', summary: 'Add a webhook receiver URL (signed with the hub’s webhook secret)', role: 'admin', body: WebhookCreate },
  { method: 'delete', path: '/webhooks/:id', summary: 'Remove a webhook receiver added through the API', role: 'admin' },
];
const DeliveryQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  event: z.enum(WEBHOOK_EVENTS).optional(),
  delivery: z.string().max(64).optional(),
});

/**
 * Mounts the webhook API (design §7) on the hub's app: `GET /api/v1/webhooks/deliveries` (viewer; never the
 * body or secret), `GET|POST /api/v1/webhooks` and `DELETE /api/v1/webhooks/:id` (admin; changes are audited).
 */
export function mountWebhookApi(app: Hono<any>, ctx: HubContext, notifier: Notifier): void {
  const need = (c: Context, role: Role): Principal => {
    const p = bearerPrincipal(ctx.store, c.req.header('authorization'));
    if (!p) throw new EdgefleetError('UNAUTHORIZED', 'missing bearer token');
    if (!p.role || !roleAtLeast(p.role, role)) throw new EdgefleetError('FORBIDDEN', `this action needs the ${role} role`);
    return p;
  };
  const actor = (p: Principal) => `${p.kind}:${p.id}`;

  app.get('/api/v1/webhooks/deliveries', (c) => {
    const p = need(c, 'viewer');
    // receiver URLs often carry a secret in their path or query (chat webhooks): only admins see them whole
    const admin = p.role !== null && roleAtLeast(p.role, 'admin');
    const r = DeliveryQuery.safeParse(c.req.query());
    if (!r.success) throw new EdgefleetError('BAD_INPUT', r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    const q = r.data;
    return c.json({
      deliveries: notifier
        .deliveries({ limit: q.limit, ...(q.event ? { event: q.event } : {}), ...(q.delivery ? { deliveryId: q.delivery } : {}) })
        .map((d) => (admin ? d : { ...d, url: redactUrl(d.url) })),
      stats: notifier.stats(),
    });
  });
  app.get('/api/v1/webhooks', (c) => {
    need(c, 'admin');
    return c.json({ webhooks: notifier.targets(), events: WEBHOOK_EVENTS });
  });
  app.post('/api/v1/webhooks', async (c) => {
    const p = need(c, 'admin');
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch (err) {
      throw new EdgefleetError('BAD_JSON', 'request body is not valid JSON', { cause: err });
    }
    const r = WebhookCreate.safeParse(raw);
    if (!r.success) throw new EdgefleetError('BAD_INPUT', 'body must be { "url": "https://…" }');
    const webhook = ctx.store.transaction(() => {
      const t = notifier.add(r.data.url, actor(p));
      ctx.store.appendAudit(actor(p), 'webhook.add', { id: t.id, url: t.url }, ctx.now().toISOString());
      return t;
    });
    return c.json({ webhook }, 201);
  });
  app.delete('/api/v1/webhooks/:id', (c) => {
    const p = need(c, 'admin');
    const id = c.req.param('id');
    const target = notifier.targets().find((t) => t.id === id);
    if (!target) throw new EdgefleetError('NOT_FOUND', `webhook ${id} not found`);
    if (target.source === 'config') throw new EdgefleetError('CONFLICT', `webhook ${id} comes from the hub's configuration (--webhook); remove it there`);
    ctx.store.transaction(() => {
      notifier.remove(id);
      ctx.store.appendAudit(actor(p), 'webhook.remove', { id, url: target.url }, ctx.now().toISOString());
    });
    return c.json({ removed: id });
  });
}
