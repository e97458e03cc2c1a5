// Inbound device messages (design §4, §6): size cap → JSON → zod, then batched into one database
// transaction per flush (one flush at a time; what arrives meanwhile goes into the next). Telemetry is de-duplicated on (deviceId, seq) and merged into per-minute
// rollups per model version and role. Every refusal is counted, none changes state.
// A message reaches the broker's acknowledgement only once its flush has committed (or it was refused
// for good): a hub killed mid-ingest loses nothing it acknowledged, and what it had not acknowledged
// comes again (resent by the device, or redelivered to the hub's persistent session) and is de-duplicated.

import {
  DeviceEvent,
  DeviceStatus,
  LIMITS,
  ReportedState,
  type TelemetryBatch,
  hubSubscriptions,
  parseMessage,
  parseTopic,
  type TelemetryWindow,
} from '@edgefleet/protocol';
import type { HubContext } from '../context.js';
import { createEventLog, type EventLog } from './event-log.js';
import { createDeviceRateLimits, type DeviceRateLimits } from './rate-limit.js';
import { parseTelemetryBatch } from './fast-check.js';
import { createTelemetryPolicy } from './policy.js';
import { createIngestCommit, ROLLUP_MS, type Committed, type Job } from './ingest-commit.js';

export { ROLLUP_MS };

/** The broker's acknowledgement of one message, held until its flush commits. */
interface Ack {
  resolve(): void;
  reject(err: Error): void;
}

/**
 * Storage that may work again later, so the message is not acknowledged and comes again: SQLite's disk full,
 * I/O, locked; PostgreSQL's connection, resource and operator-intervention classes (08, 53, 57), a
 * serialization failure or deadlock (40), and a lost connection (no SQLSTATE, a Node socket error code).
 */
export function isStorageFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return /Connection terminated|the database is closed|timeout exceeded when trying to connect/i.test(String((err as Error | null)?.message ?? ''));
  return /^SQLITE_(FULL|IOERR|BUSY|LOCKED|READONLY|CANTOPEN|NOMEM|PROTOCOL)/.test(code) || /^(08|53|57|40)[0-9A-Z]{3}$/.test(code) || /^E(CONNRESET|CONNREFUSED|PIPE|TIMEDOUT|HOSTUNREACH)$/.test(code);
}

export interface IngestOptions {
  /** Flush after this many queued messages… */
  maxBatch?: number;
  /** …or this long after the first one. */
  flushMs?: number;
  /** Called after a commit with the devices whose status changed (dashboard, rollout engine). */
  onStatus?: (deviceId: string, status: DeviceStatus) => void;
  /** Called after a commit with each device event stored (webhooks on `rolled-back`, design §7). */
  onEvent?: (deviceId: string, event: DeviceEvent) => void;
  /**
   * Called after a commit for each telemetry batch with `confirm` the hub is done with: stored now, stored
   * before (a duplicate), or refused for good (design §4 telemetry `confirm`). Not for one refused for now.
   */
  onTelemetryDone?: (deviceId: string, seq: number) => void;
  /** Where events are stored (per-device cap, de-duplication); default: an event log with its defaults. */
  events?: EventLog;
  /** Per-device message rate limits (rate-limit.ts defaults when unset). */
  rateLimits?: DeviceRateLimits;
  /** Oldest window accepted, ms before now: the raw retention (default 7 days). */
  maxWindowAgeMs?: number;
  /** The replica id whose rollup rows this ingest writes (design §8; default '', a lone hub). */
  replica?: string;
}

export interface Ingest {
  /** Route one inbound MQTT message; never rejects. Resolves when it is committed, refused, or had nothing to store. */
  handle(topic: string, payload: Buffer): Promise<void>;
  /** Commit everything queued now (and what a running flush is committing). */
  flush(): Promise<void>;
  /** A status the broker observed itself (a client gone without a last will), queued in order. */
  status(deviceId: string, status: DeviceStatus): void;
  /** Subscribe to the device → hub topics it consumes (everything but artifact/get). */
  subscribe(): Promise<void>;
  /** The last flush; nothing is queued after it. */
  close(): Promise<void>;
  /** Device added or removed: forget its cached existence. */
  forget(deviceId: string): void;
  /**
   * Retention (design §7): drop raw windows and the de-duplication record received before `rawBefore`
   * (keeping per device the highest seq dropped, so a replay stays a duplicate), and rollups older than
   * `rollupsBefore` (epoch ms). Returns the rows deleted.
   */
  prune(rawBefore: number, rollupsBefore: number): Promise<number>;
}

export function createIngest(ctx: HubContext, options: IngestOptions = {}): Ingest {
  const { store, metrics } = ctx;
  const maxBatch = options.maxBatch ?? 2000;
  const flushMs = options.flushMs ?? 20;
  let queue: Job[] = [];
  let acks: Array<Ack | null> = []; // aligned with queue
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  const knownDevices = new Map<string, boolean>();
  const eventLog = options.events ?? createEventLog(store);
  const rateLimits = options.rateLimits ?? createDeviceRateLimits();
  const policy = createTelemetryPolicy(store, { maxWindowAgeMs: options.maxWindowAgeMs ?? 7 * 86_400_000 });
  // a device added, removed or given new credentials on any replica (store/changes.ts): read it again
  store.changes.subscribe('device', (id) => {
    if (id !== null) return forgetDevice(id);
    knownDevices.clear();
    committer.forgetFloors();
  });

  const deviceExists = async (id: string): Promise<boolean> => {
    let known = knownDevices.get(id);
    if (known === undefined) {
      known = (await store.getDevice(id)) !== undefined;
      if (knownDevices.size > 100_000) knownDevices.clear();
      knownDevices.set(id, known);
    }
    return known;
  };

  const committer = createIngestCommit(ctx, { eventLog, onEvent: Boolean(options.onEvent), onTelemetryDone: Boolean(options.onTelemetryDone), replica: options.replica ?? '', registered: policy.registered });
  const commit = committer.commit;
  function forgetDevice(id: string): void {
    knownDevices.delete(id);
    rateLimits.forget(id);
    committer.forget(id);
  }

  // after the commit, outside it: a failing listener must not make committed messages look uncommitted
  const notify = ({ statusChanges, stored, telemetry }: Committed) => {
    try {
      for (const j of telemetry) if (j.kind === 'telemetry' && j.batch.confirm) options.onTelemetryDone?.(j.deviceId, j.batch.seq);
      for (const [id, s] of statusChanges) options.onStatus?.(id, s);
      for (const [id, e] of stored) options.onEvent?.(id, e);
    } catch (err) {
      ctx.log(`ingest: after commit: ${String(err)}`);
    }
  };

  const commitQueued = async (): Promise<void> => {
    if (queue.length === 0) return;
    const jobs = queue;
    const waiting = acks;
    queue = [];
    acks = [];
    let done: Committed | null = null;
    try {
      done = await commit(jobs);
    } catch (err) {
      // the floors read inside a rolled-back transaction are still true (they only grow): keep them
      ctx.log(`ingest: commit of ${jobs.length} messages failed, committing them one by one: ${String(err)}`);
    }
    if (done) {
      for (const a of waiting) a?.resolve();
      return notify(done);
    }
    // a failed transaction rolls back whole: one bad message must not take the others with it
    for (const [i, job] of jobs.entries()) {
      const ack = waiting[i];
      let one: Committed;
      try {
        one = await commit([job]);
      } catch (err) {
        if (isStorageFailure(err) && ack) {
          metrics.inc('edgefleet_rejected_messages_total', { reason: 'UNAVAILABLE', topic: 'ingest' });
          ack.reject(err as Error);
          continue;
        }
        // refused for good: acknowledged, so it is not sent again
        ctx.log(`ingest: ${job.kind} from ${job.deviceId} not stored: ${String(err)}`);
        metrics.inc('edgefleet_rejected_messages_total', { reason: 'INTERNAL', topic: 'ingest' });
        if (job.kind === 'telemetry' && job.batch.confirm) options.onTelemetryDone?.(job.deviceId, job.batch.seq);
        ack?.resolve();
        continue;
      }
      ack?.resolve();
      notify(one);
    }
  };

  // one flush at a time: a flush asked for while one commits takes what queued meanwhile, after it
  let flushing: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> => {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    flushing = flushing.then(commitQueued, commitQueued);
    return flushing;
  };

  const enqueue = (job: Job, ack: Ack | null): void => {
    if (closed) {
      ack?.reject(new Error('ingest closed'));
      return;
    }
    queue.push(job);
    acks.push(ack);
    if (queue.length >= maxBatch) void flush();
    else if (!timer) timer = setTimeout(() => void flush(), flushMs);
  };

  /**
   * Routes one message: true when it (and its acknowledgement) was queued, false when it was refused or
   * needs nothing. Synchronous while everything it needs is cached (a known device, a model version's
   * layout); a promise when it has to read the store first.
   */
  const route = (topic: string, payload: Buffer, ack: Ack | null): boolean | Promise<boolean> => {
    const parsed = parseTopic(topic);
    if (!parsed || parsed.kind === 'keyring' || parsed.kind === 'artifact-multicast') return (ctx.reject('unknown', 'BAD_MESSAGE'), false);
    const { deviceId } = parsed;
    // an empty payload clears a retained message (the hub does so when it removes a device): nothing to ingest
    if (payload.length === 0 && (parsed.kind === 'reported' || parsed.kind === 'status')) return false;
    // events and telemetry are never retained (design §4): an empty one is the hub clearing a copy a broker kept
    if (payload.length === 0 && (parsed.kind === 'events' || parsed.kind === 'telemetry')) return false;
    // anything from a device we do not know; not cached yet: read, then route again
    const known = knownDevices.get(deviceId);
    if (known === undefined) return deviceExists(deviceId).then(() => route(topic, payload, ack));
    if (!known) return (ctx.reject(parsed.kind, 'NOT_FOUND'), false);
    if (!rateLimits.take(parsed.kind, deviceId)) return (ctx.reject(parsed.kind, 'RATE_LIMITED'), false);
    const at = Date.now();
    switch (parsed.kind) {
      case 'telemetry': {
        // same refusals as parseMessage(payload, TelemetryBatch, …), zod only when the fast check is unsure
        const r = parseTelemetryBatch(payload);
        if (!r.ok) return (ctx.reject('telemetry', r.code), false);
        if (r.value.deviceId !== deviceId) return (ctx.reject('telemetry', 'WRONG_DEVICE'), false);
        const batch = r.value;
        const now = ctx.now().getTime();
        const issue = policy.issueNow(batch, now);
        if (issue === undefined) return policy.issue(batch, now).then((found) => takeTelemetry(deviceId, batch, found, at, ack));
        return takeTelemetry(deviceId, batch, issue, at, ack);
      }
      case 'events': {
        const r = parseMessage(payload, DeviceEvent, LIMITS.event);
        if (!r.ok) return (ctx.reject('events', r.code), false);
        enqueue({ kind: 'event', deviceId, event: r.value, at }, ack);
        return true;
      }
      case 'reported': {
        const r = parseMessage(payload, ReportedState, LIMITS.reported);
        if (!r.ok) return (ctx.reject('reported', r.code), false);
        if (r.value.deviceId !== deviceId) return (ctx.reject('reported', 'WRONG_DEVICE'), false);
        enqueue({ kind: 'reported', deviceId, reported: r.value, at }, ack);
        return true;
      }
      case 'status': {
        if (payload.length > LIMITS.status) return (ctx.reject('status', 'TOO_LARGE'), false);
        // the body is the bare word (design §4); accept a JSON string too
        const text = payload.toString('utf8').trim().replace(/^"(.*)"$/, '$1');
        const r = DeviceStatus.safeParse(text);
        if (!r.success) return (ctx.reject('status', 'BAD_MESSAGE'), false);
        enqueue({ kind: 'status', deviceId, status: r.data, at }, ack);
        return true;
      }
      default:
        return (ctx.reject(parsed.kind, 'FORBIDDEN'), false);
    }
  };

  /** A schema-valid batch, with what the policy found wrong with it (null: nothing). */
  const takeTelemetry = (deviceId: string, batch: TelemetryBatch, issue: string | null, at: number, ack: Ack | null): boolean => {
    if (issue !== null) {
      if (batch.confirm) options.onTelemetryDone?.(deviceId, batch.seq); // refused for good: a re-send changes nothing
      return (ctx.reject('telemetry', 'BAD_MESSAGE'), false);
    }
    if (ctx.bus.serial && batch.confirm && ack) {
      // design §4 telemetry `confirm`: the device keeps this batch until the hub confirms its seq after
      // the commit, so an external broker (one message per acknowledgement) gets its ack now and the batch
      // commits with the next flush, instead of one transaction per message; lost with a crashed hub,
      // it is sent again by the device
      ack.resolve();
      enqueue({ kind: 'telemetry', deviceId, batch, at }, null);
      return false;
    }
    enqueue({ kind: 'telemetry', deviceId, batch, at }, ack);
    return true;
  };

  const routeFailed = (err: unknown): false => {
    ctx.log(`ingest: ${String(err)}`);
    ctx.reject('unknown', 'INTERNAL');
    return false;
  };

  // Messages are routed one after another, in arrival order: routing may wait for the store (a device not
  // cached yet, a model version's layout), and a device's status and reports must reach the queue in the order
  // they came. While none waits, a message is routed at once, without a promise; one that has to wait
  // becomes the chain the next ones queue behind. A routed message only waits for its commit, outside it.
  let routing: Promise<unknown> = Promise.resolve();
  let waiting = 0; // routes in the chain not finished yet
  const chain = (p: Promise<boolean>): Promise<boolean> => {
    waiting++;
    const q = p.then(
      (queued) => (waiting--, queued),
      (err: unknown) => (waiting--, routeFailed(err)),
    );
    routing = q;
    return q;
  };
  const handle = (topic: string, payload: Buffer, ack: Ack | null = null): boolean | Promise<boolean> => {
    if (waiting > 0) return chain(routing.then(() => route(topic, payload, ack)));
    try {
      const r = route(topic, payload, ack);
      return typeof r === 'boolean' ? r : chain(r);
    } catch (err) {
      return routeFailed(err);
    }
  };
  /** Settles `resolve` at once when the message was not queued (its commit settles it otherwise). */
  const routed = (queued: boolean | Promise<boolean>, resolve: () => void, onQueued?: () => void): void => {
    if (queued === true) onQueued?.();
    else if (queued === false) resolve();
    else void queued.then((q) => (q ? onQueued?.() : resolve()));
  };

  return {
    handle: (topic, payload) => new Promise<void>((resolve) => routed(handle(topic, payload, { resolve, reject: () => resolve() }), resolve)),
    flush,
    status(deviceId, status) {
      // through the routing chain, so it cannot overtake what the device published before it went
      void chain(
        routing.then(async () => {
          if (await deviceExists(deviceId)) enqueue({ kind: 'status', deviceId, status, at: Date.now() }, null);
          return false;
        }),
      );
    },
    async subscribe() {
      // settles when the message is committed, or at once when it is refused or has nothing to store
      // (nothing else arrives on an external broker before this one is acknowledged: flush at once)
      const now = () => void flush();
      const h = (topic: string, payload: Buffer) => new Promise<void>((resolve, reject) => routed(handle(topic, payload, { resolve, reject }), resolve, ctx.bus.serial ? now : undefined));
      await ctx.bus.subscribe(hubSubscriptions.telemetry, h);
      await ctx.bus.subscribe(hubSubscriptions.events, h);
      await ctx.bus.subscribe(hubSubscriptions.reported, h);
      await ctx.bus.subscribe(hubSubscriptions.status, h);
    },
    async close() {
      await routing;
      await flush();
      closed = true;
    },
    forget: forgetDevice,
    async prune(rawBefore, rollupsBefore) {
      committer.forgetFloors();
      const n = await store.telemetry.prune(rawBefore, rollupsBefore);
      committer.forgetFloors(); // the floors it raised are read again
      return n;
    },
  };
}
