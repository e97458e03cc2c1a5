// One ingest flush as one database transaction (design §4, §6): telemetry de-duplicated on (deviceId, seq)
// set-based, its windows stored and merged into per-minute rollups, events, reports in the device's own
// order, statuses and last-seen times. ingest.ts queues messages and acknowledges them after this commits.

import type { DeviceEvent, DeviceStatus, ReportedState, TelemetryBatch, TelemetryWindow } from '@edgefleet/protocol';
import type { CaptureInsert, CaptureLabelUpdate } from '../store/captures.js';
import { captureParts } from './captures.js';
import type { HubContext } from '../context.js';
import { batchKey, type RollupKey, type WindowInsert } from '../store/telemetry.js';
import type { EventLog } from './event-log.js';
import { parseStoredWindow } from './fast-check.js';
import { errorCount, mergeWindowInto } from './merge.js';
import { observeLatency } from './latency-metric.js';
import { isNewerReport } from './report-order.js';
import { LATENCY_BUCKETS_SECONDS } from '../metrics.js';

export const ROLLUP_MS = 60_000;

export type Job =
  | { kind: 'telemetry'; deviceId: string; batch: TelemetryBatch; at: number }
  | { kind: 'event'; deviceId: string; event: DeviceEvent; at: number }
  | { kind: 'reported'; deviceId: string; reported: ReportedState; at: number }
  | { kind: 'status'; deviceId: string; status: DeviceStatus; at: number };

/** What a commit changed, for the listeners called after it. */
export interface Committed {
  statusChanges: Array<[string, DeviceStatus]>;
  stored: Array<[string, DeviceEvent]>;
  telemetry: Job[];
}

export interface IngestCommitOptions {
  eventLog: EventLog;
  /** Collect the stored events (for an onEvent listener). */
  onEvent: boolean;
  /** Collect the telemetry jobs (for an onTelemetryDone listener). */
  onTelemetryDone: boolean;
  /** Whose rollup rows this process writes (design §8: its replica id; '' for a lone hub). */
  replica: string;
  /** Whether a model version is registered: only those get latency series (a bounded label set). */
  registered?: (model: string, version: string) => boolean;
}

/**
 * Another process wrote a rollup row of this replica between this flush's read and its write: a
 * serialization failure (SQLSTATE 40001), so the flush rolls back and its messages come again.
 */
class RollupConflict extends Error {
  readonly code = '40001';
}

export function createIngestCommit(ctx: HubContext, options: IngestCommitOptions) {
  const { store, metrics } = ctx;
  const { eventLog, replica } = options;
  const sql = store.telemetry;
  // per device: batches with a seq at or below this were received before retention removed their records
  const floors = new Map<string, number>();
  const loadFloors = async (ids: Iterable<string>): Promise<void> => {
    const missing = [...new Set(ids)].filter((id) => !floors.has(id));
    if (missing.length === 0) return;
    const found = await sql.seqFloors(missing);
    if (floors.size + missing.length > 100_000) floors.clear();
    for (const id of missing) floors.set(id, found.get(id) ?? -1);
  };

  const commit = async (jobs: Job[]): Promise<Committed> => {
    // this replica's row of each rollup the flush adds to: the body it read (to write only over that), merged
    const rollups = new Map<string, { key: RollupKey; prior: string | undefined; window: TelemetryWindow }>();
    const statusChanges: Array<[string, DeviceStatus]> = [];
    const stored: Array<[string, DeviceEvent]> = [];
    // once per flush, not per message: last-seen times and which devices reported in which rollup
    const seen = new Map<string, number>();
    const reporting = new Map<string, { model: string; version: string; role: string; minute: number; deviceId: string }>();
    const markReporting = (w: TelemetryWindow, minute: number, deviceId: string) => {
      const k = `${w.model}\u0000${w.version}\u0000${w.role}\u0000${minute}\u0000${deviceId}`;
      if (!reporting.has(k)) reporting.set(k, { model: w.model, version: w.version, role: w.role, minute, deviceId });
    };
    let batches = 0;
    let windows = 0;
    let duplicates = 0;
    let events = 0;
    let eventDuplicates = 0;
    let superseded = 0;
    const committedWindows: TelemetryWindow[] = [];
    const telemetry = options.onTelemetryDone ? jobs.filter((j) => j.kind === 'telemetry') : [];
    await store.transaction(async () => {
      // design §4: the hub de-duplicates on (deviceId, seq), also after retention removed the record. The
      // records of a flush go in set-based; a batch is new when its record went in now (not before, not by
      // another replica, not earlier in this flush)
      const tele = jobs.filter((j): j is Extract<Job, { kind: 'telemetry' }> => j.kind === 'telemetry');
      await sql.lockForFlush(jobs.map((j) => j.deviceId));
      await loadFloors(tele.map((j) => j.deviceId));
      const firsts = new Map<string, Extract<Job, { kind: 'telemetry' }>>();
      for (const j of tele) {
        const k = batchKey(j.deviceId, j.batch.seq);
        if (j.batch.seq > (floors.get(j.deviceId) ?? -1) && !firsts.has(k)) firsts.set(k, j);
      }
      const fresh = await sql.insertNewBatches(
        [...firsts.values()].map((j) => ({ deviceId: j.deviceId, seq: j.batch.seq, receivedAt: j.at, windows: j.batch.windows.length, dropped: j.batch.dropped })),
      );
      const rows: WindowInsert[] = [];
      const captureRows: CaptureInsert[] = [];
      const captureLabels: CaptureLabelUpdate[] = [];
      for (const job of jobs) {
        if (job.kind === 'telemetry') {
          const b = job.batch;
          const k = batchKey(job.deviceId, b.seq);
          if (firsts.get(k) !== job || !fresh.has(k)) {
            duplicates++;
            continue;
          }
          batches++;
          seen.set(job.deviceId, job.at);
          // design §4 capture: rows ride their batch, so they are stored exactly when the batch is new
          if (b.captures || b.capturesDropped) captureParts(ctx, job.deviceId, b, job.at, captureRows, captureLabels);
          for (const w of b.windows) {
            windows++;
            committedWindows.push(w);
            rows.push({ deviceId: job.deviceId, model: w.model, version: w.version, role: w.role, start: w.start, end: w.end, inferences: w.inferences, body: JSON.stringify(w), receivedAt: job.at });
            const minute = Math.floor(w.start / ROLLUP_MS) * ROLLUP_MS;
            const key = `${w.model}\u0000${w.version}\u0000${w.role}\u0000${minute}`;
            let r = rollups.get(key);
            if (!r) {
              // a stored rollup this hub could not have written (skipped by every reader) is replaced
              const k: RollupKey = { model: w.model, version: w.version, role: w.role, minute };
              const body = await sql.rollupBody(replica, k);
              const prior = body === undefined ? null : parseStoredWindow(body);
              // a copy: later windows merge into the rollup in place, and `w` itself is observed after the commit
              r = { key: k, prior: body, window: prior ?? structuredClone(w) };
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
          if (!(await eventLog.add(job.deviceId, e, job.at))) {
            eventDuplicates++;
            continue;
          }
          seen.set(job.deviceId, job.at);
          if (options.onEvent) stored.push([job.deviceId, e]);
          events++;
        } else if (job.kind === 'reported') {
          // design §8: replicas may take a device's reports out of order; keep the newer by the device's order
          // (the stored report is read locked, so two replicas cannot both find theirs newer)
          if (!isNewerReport(await store.lockReported(job.deviceId), job.reported)) {
            superseded++;
            continue;
          }
          await store.setDeviceReported(job.deviceId, job.reported, new Date(job.at).toISOString());
        } else {
          if (await store.setDeviceStatus(job.deviceId, job.status, new Date(job.at).toISOString())) statusChanges.push([job.deviceId, job.status]);
        }
      }
      await sql.insertWindows(rows);
      if (captureRows.length > 0) {
        const stored = await store.captures.insert(captureRows);
        metrics.inc('edgefleet_capture_rows_total', { outcome: 'stored' }, stored);
        metrics.inc('edgefleet_capture_rows_total', { outcome: 'duplicate' }, captureRows.length - stored);
      }
      if (captureLabels.length > 0) {
        const joined = await store.captures.label(captureLabels);
        metrics.inc('edgefleet_capture_labels_total', { outcome: 'joined' }, joined);
        metrics.inc('edgefleet_capture_labels_total', { outcome: 'unmatched' }, captureLabels.length - joined);
      }
      await sql.markRollupDevices([...reporting.values()]);
      await store.setDevicesSeen(new Map([...seen].map(([id, at]) => [id, new Date(at).toISOString()])));
      for (const r of rollups.values()) {
        if (!(await sql.putRollup(replica, r.key, { inferences: r.window.inferences, errors: errorCount(r.window), body: JSON.stringify(r.window), prior: r.prior }))) {
          throw new RollupConflict(`rollup ${r.key.model}@${r.key.version} ${r.key.minute}: written meanwhile by another process as replica '${replica}' (give each replica its own --replica-id)`);
        }
      }
    });
    metrics.inc('edgefleet_telemetry_batches_total', {}, batches);
    metrics.inc('edgefleet_telemetry_windows_total', {}, windows);
    metrics.inc('edgefleet_telemetry_duplicates_total', {}, duplicates);
    metrics.inc('edgefleet_events_total', {}, events);
    metrics.inc('edgefleet_event_duplicates_total', {}, eventDuplicates);
    metrics.inc('edgefleet_reported_superseded_total', {}, superseded);
    // each window once over all replicas: only the one that committed its batch (design §4) observes it
    if (options.registered) observeLatency(metrics, LATENCY_BUCKETS_SECONDS, committedWindows, options.registered);
    return { statusChanges, stored, telemetry };
  };


  return {
    commit,
    forget: (id: string) => floors.delete(id),
    forgetFloors: () => floors.clear(),
  };
}
