// Inbound device messages (design §4, §6): size cap → JSON → zod, then batched into one SQLite
// transaction per flush. Telemetry is de-duplicated on (deviceId, seq) and merged into per-minute
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
import { createTelemetrySql } from '../store/telemetry.js';
import { createEventLog, type EventLog } from './event-log.js';
import { createDeviceRateLimits, type DeviceRateLimits } from './rate-limit.js';
import { parseStoredWindow, parseTelemetryBatch } from './fast-check.js';
import { errorCount, mergeWindowInto } from './merge.js';
import { createTelemetryPolicy } from './policy.js';
import { isNewerReport } from './report-order.js';

export const ROLLUP_MS = 60_000;

type Job =
  | { kind: 'telemetry'; deviceId: string; batch: TelemetryBatch; at: number }
  | { kind: 'event'; deviceId: string; event: DeviceEvent; at: number }
  | { kind: 'reported'; deviceId: string; reported: ReportedState; at: number }
  | { kind: 'status'; deviceId: string; status: DeviceStatus; at: number };

/** The broker's acknowledgement of one message, held until its flush commits. */
interface Ack {
  resolve(): void;
  reject(err: Error): void;
}

/** Storage that may work again later (disk full, I/O, locked): not acknowledged, so the message comes again. */
function isStorageFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(FULL|IOERR|BUSY|LOCKED|READONLY|CANTOPEN|NOMEM|PROTOCOL)/.test(code);
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
}

export interface Ingest {
  /** Route one inbound MQTT message; never throws. */
  handle(topic: string, payload: Buffer): void;
  /** Commit everything queued now. */
  flush(): void;
  /** A status the broker observed itself (a client gone without a last will), queued in order. */
  status(deviceId: string, status: DeviceStatus): void;
  /** Subscribe to the device → hub topics it consumes (everything but artifact/get). */
  subscribe(): Promise<void>;
  close(): void;
  /** Device added or removed: forget its cached existence. */
  forget(deviceId: string): void;
  /**
   * Retention (design §7): drop raw windows and the de-duplication record received before `rawBefore`
   * (keeping per device the highest seq dropped, so a replay stays a duplicate), and rollups older than
   * `rollupsBefore` (epoch ms). Returns the rows deleted.
   */
  prune(rawBefore: number, rollupsBefore: number): number;
}

export function createIngest(ctx: HubContext, options: IngestOptions = {}): Ingest {
  const { store, metrics } = ctx;
  const maxBatch = options.maxBatch ?? 2000;
  const flushMs = options.flushMs ?? 20;
  let queue: Job[] = [];
  let acks: Array<Ack | null> = []; // aligned with queue
  let current: Ack | null = null; // the acknowledgement of the message being handled, taken by enqueue
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  const knownDevices = new Map<string, boolean>();
  const eventLog = options.events ?? createEventLog(store);
  const rateLimits = options.rateLimits ?? createDeviceRateLimits();
  const policy = createTelemetryPolicy(store, { maxWindowAgeMs: options.maxWindowAgeMs ?? 7 * 86_400_000 });

  const sql = createTelemetrySql(store);
  // per device: batches with a seq at or below this were received before retention removed their records
  const floors = new Map<string, number>();
  const floorOf = (id: string): number => {
    let f = floors.get(id);
    if (f === undefined) {
      f = sql.seqFloor(id) ?? -1;
      if (floors.size > 100_000) floors.clear();
      floors.set(id, f);
    }
    return f;
  };

  const deviceExists = (id: string): boolean => {
    let known = knownDevices.get(id);
    if (known === undefined) {
      known = store.getDevice(id) !== undefined;
      if (knownDevices.size > 100_000) knownDevices.clear();
      knownDevices.set(id, known);
    }
    return known;
  };

  const commit = (jobs: Job[]): { statusChanges: Array<[string, DeviceStatus]>; stored: Array<[string, DeviceEvent]>; telemetry: Job[] } => {
    const rollups = new Map<string, { model: string; version: string; role: string; minute: number; window: TelemetryWindow }>();
    const statusChanges: Array<[string, DeviceStatus]> = [];
    const stored: Array<[string, DeviceEvent]> = [];
    // once per flush, not per message: last-seen times and which devices reported in which rollup
    const seen = new Map<string, number>();
    const reporting = new Set<string>();
    const markReporting = (w: TelemetryWindow, minute: number, deviceId: string) => {
      const k = `${w.model}\u0000${w.version}\u0000${w.role}\u0000${minute}\u0000${deviceId}`;
      if (reporting.has(k)) return;
      reporting.add(k);
      sql.markRollupDevice(w.model, w.version, w.role, minute, deviceId);
    };
    let batches = 0;
    let windows = 0;
    let duplicates = 0;
    let events = 0;
    let eventDuplicates = 0;
    let superseded = 0;
    const telemetry = options.onTelemetryDone ? jobs.filter((j) => j.kind === 'telemetry') : [];
    store.transaction(() => {
      for (const job of jobs) {
        if (job.kind === 'telemetry') {
          const b = job.batch;
          // design §4: the hub de-duplicates on (deviceId, seq), also after retention removed the record
          if (b.seq <= floorOf(job.deviceId) || !sql.insertBatch(job.deviceId, b.seq, job.at, b.windows.length, b.dropped)) {
            duplicates++;
            continue;
          }
          batches++;
          seen.set(job.deviceId, job.at);
          for (const w of b.windows) {
            windows++;
            sql.insertWindow(job.deviceId, w, JSON.stringify(w), job.at);
            const minute = Math.floor(w.start / ROLLUP_MS) * ROLLUP_MS;
            const key = `${w.model}\u0000${w.version}\u0000${w.role}\u0000${minute}`;
            let r = rollups.get(key);
            if (!r) {
              // a stored rollup this hub could not have written (skipped by every reader) is replaced
              const body = sql.rollupBody(w.model, w.version, w.role, minute);
              const prior = body === undefined ? null : parseStoredWindow(body);
              r = { model: w.model, version: w.version, role: w.role, minute, window: prior ?? w };
              rollups.set(key, r);
              if (!prior) {
                markReporting(w, minute, job.deviceId);
                continue;
              }
            }
            try {
              // the rollup window is ours (parsed from the store, or a window already stored): merge into it
              r.window = mergeWindowInto(r.window, w);
            } catch (err) {
              // incompatible summaries (e.g. a different bin layout): keep the raw window, skip the rollup
              ctx.reject('telemetry', 'BAD_MESSAGE');
              ctx.log(`rollup ${w.model}@${w.version}: ${String(err)}`);
            }
            markReporting(w, minute, job.deviceId);
          }
        } else if (job.kind === 'event') {
          const e = job.event;
          if (!eventLog.add(job.deviceId, e, job.at)) {
            eventDuplicates++;
            continue;
          }
          seen.set(job.deviceId, job.at);
          if (options.onEvent) stored.push([job.deviceId, e]);
          events++;
        } else if (job.kind === 'reported') {
          // design §8: replicas may take a device's reports out of order; keep the newer by the device's order
          if (!isNewerReport(store.getDevice(job.deviceId)?.reported, job.reported)) {
            superseded++;
            continue;
          }
          store.setDeviceReported(job.deviceId, job.reported, new Date(job.at).toISOString());
        } else {
          if (store.setDeviceStatus(job.deviceId, job.status, new Date(job.at).toISOString())) statusChanges.push([job.deviceId, job.status]);
        }
      }
      for (const [id, at] of seen) store.setDeviceSeen(id, new Date(at).toISOString());
      for (const r of rollups.values()) {
        sql.putRollup(r.model, r.version, r.role, r.minute, r.window.inferences, errorCount(r.window), JSON.stringify(r.window));
      }
    });
    metrics.inc('edgefleet_telemetry_batches_total', {}, batches);
    metrics.inc('edgefleet_telemetry_windows_total', {}, windows);
    metrics.inc('edgefleet_telemetry_duplicates_total', {}, duplicates);
    metrics.inc('edgefleet_events_total', {}, events);
    metrics.inc('edgefleet_event_duplicates_total', {}, eventDuplicates);
    metrics.inc('edgefleet_reported_superseded_total', {}, superseded);
    return { statusChanges, stored, telemetry };
  };

  const flush = () => {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    if (queue.length === 0) return;
    const jobs = queue;
    const waiting = acks;
    queue = [];
    acks = [];
    // after the commit, outside it: a failing listener must not make committed messages look uncommitted
    const notify = ({ statusChanges, stored, telemetry }: ReturnType<typeof commit>) => {
      try {
        for (const j of telemetry) if (j.kind === 'telemetry' && j.batch.confirm) options.onTelemetryDone?.(j.deviceId, j.batch.seq);
        for (const [id, s] of statusChanges) options.onStatus?.(id, s);
        for (const [id, e] of stored) options.onEvent?.(id, e);
      } catch (err) {
        ctx.log(`ingest: after commit: ${String(err)}`);
      }
    };
    let done: ReturnType<typeof commit> | null = null;
    try {
      done = commit(jobs);
    } catch (err) {
      ctx.log(`ingest: commit of ${jobs.length} messages failed, committing them one by one: ${String(err)}`);
    }
    if (done) {
      for (const a of waiting) a?.resolve();
      return notify(done);
    }
    // a failed transaction rolls back whole: one bad message must not take the others with it
    jobs.forEach((job, i) => {
      const ack = waiting[i];
      let one: ReturnType<typeof commit>;
      try {
        one = commit([job]);
      } catch (err) {
        if (isStorageFailure(err) && ack) {
          metrics.inc('edgefleet_rejected_messages_total', { reason: 'UNAVAILABLE', topic: 'ingest' });
          return ack.reject(err as Error);
        }
        // refused for good: acknowledged, so it is not sent again
        ctx.log(`ingest: ${job.kind} from ${job.deviceId} not stored: ${String(err)}`);
        metrics.inc('edgefleet_rejected_messages_total', { reason: 'INTERNAL', topic: 'ingest' });
        if (job.kind === 'telemetry' && job.batch.confirm) options.onTelemetryDone?.(job.deviceId, job.batch.seq);
        return ack?.resolve();
      }
      ack?.resolve();
      notify(one);
    });
  };

  const enqueue = (job: Job) => {
    const ack = current;
    current = null;
    if (closed) {
      ack?.reject(new Error('ingest closed'));
      return;
    }
    queue.push(job);
    acks.push(ack);
    if (queue.length >= maxBatch) flush();
    else if (!timer) timer = setTimeout(flush, flushMs);
  };

  const handle = (topic: string, payload: Buffer): void => {
    const parsed = parseTopic(topic);
    if (!parsed || parsed.kind === 'keyring' || parsed.kind === 'artifact-multicast') return ctx.reject('unknown', 'BAD_MESSAGE');
    const { deviceId } = parsed;
    const at = Date.now();
    // an empty payload clears a retained message (the hub does so when it removes a device): nothing to ingest
    if (payload.length === 0 && (parsed.kind === 'reported' || parsed.kind === 'status')) return;
    // events and telemetry are never retained (design §4): an empty one is the hub clearing a copy a broker kept
    if (payload.length === 0 && (parsed.kind === 'events' || parsed.kind === 'telemetry')) return;
    // a retained message cleared by an empty payload, or anything from a device we do not know
    if (!deviceExists(deviceId)) return ctx.reject(parsed.kind, 'NOT_FOUND');
    if (!rateLimits.take(parsed.kind, deviceId)) return ctx.reject(parsed.kind, 'RATE_LIMITED');
    switch (parsed.kind) {
      case 'telemetry': {
        // same refusals as parseMessage(payload, TelemetryBatch, …), zod only when the fast check is unsure
        const r = parseTelemetryBatch(payload);
        if (!r.ok) return ctx.reject('telemetry', r.code);
        if (r.value.deviceId !== deviceId) return ctx.reject('telemetry', 'WRONG_DEVICE');
        if (policy.issue(r.value, ctx.now().getTime()) !== null) {
          if (r.value.confirm) options.onTelemetryDone?.(deviceId, r.value.seq); // refused for good: a re-send changes nothing
          return ctx.reject('telemetry', 'BAD_MESSAGE');
        }
        if (ctx.bus.serial && r.value.confirm && current) {
          // design §4 telemetry `confirm`: the device keeps this batch until the hub confirms its seq after
          // the commit, so an external broker (one message per acknowledgement) gets its ack now and the batch
          // commits with the next flush, instead of one transaction per message; lost with a crashed hub,
          // it is sent again by the device
          const early = current;
          current = null;
          early.resolve();
        }
        return enqueue({ kind: 'telemetry', deviceId, batch: r.value, at });
      }
      case 'events': {
        const r = parseMessage(payload, DeviceEvent, LIMITS.event);
        if (!r.ok) return ctx.reject('events', r.code);
        return enqueue({ kind: 'event', deviceId, event: r.value, at });
      }
      case 'reported': {
        if (payload.length === 0) return; // a device clearing its retained report
        const r = parseMessage(payload, ReportedState, LIMITS.reported);
        if (!r.ok) return ctx.reject('reported', r.code);
        if (r.value.deviceId !== deviceId) return ctx.reject('reported', 'WRONG_DEVICE');
        return enqueue({ kind: 'reported', deviceId, reported: r.value, at });
      }
      case 'status': {
        if (payload.length === 0) return;
        if (payload.length > LIMITS.status) return ctx.reject('status', 'TOO_LARGE');
        // the body is the bare word (design §4); accept a JSON string too
        const text = payload.toString('utf8').trim().replace(/^"(.*)"$/, '$1');
        const r = DeviceStatus.safeParse(text);
        if (!r.success) return ctx.reject('status', 'BAD_MESSAGE');
        return enqueue({ kind: 'status', deviceId, status: r.data, at });
      }
      default:
        return ctx.reject(parsed.kind, 'FORBIDDEN');
    }
  };

  return {
    handle,
    flush,
    status(deviceId, status) {
      if (deviceExists(deviceId)) enqueue({ kind: 'status', deviceId, status, at: Date.now() });
    },
    async subscribe() {
      // settles when the message is committed, or at once when it is refused or has nothing to store
      const h = (topic: string, payload: Buffer) =>
        new Promise<void>((resolve, reject) => {
          const ack: Ack = { resolve, reject };
          current = ack;
          try {
            handle(topic, payload);
          } catch (err) {
            ctx.log(`ingest: ${String(err)}`);
            ctx.reject('unknown', 'INTERNAL');
          }
          if (current === ack) {
            current = null;
            resolve();
          } else if (ctx.bus.serial && acks[acks.length - 1] === ack) flush(); // nothing else arrives before this one is acknowledged
        });
      await ctx.bus.subscribe(hubSubscriptions.telemetry, h);
      await ctx.bus.subscribe(hubSubscriptions.events, h);
      await ctx.bus.subscribe(hubSubscriptions.reported, h);
      await ctx.bus.subscribe(hubSubscriptions.status, h);
    },
    close() {
      flush();
      closed = true;
    },
    forget(id) {
      knownDevices.delete(id);
      rateLimits.forget(id);
      floors.delete(id);
    },
    prune(rawBefore, rollupsBefore) {
      floors.clear();
      return sql.prune(rawBefore, rollupsBefore);
    },
  };
}
