// The browser store's telemetry outbox and late-label index (design §4, §6), answering like the SQLite
// store: windows in insertion order, a batch's seq fixed with its rows before the first send (a re-send
// after a reload carries the same seq and windows), sent marks kept until the hub's confirmation, the
// bound enforced on every window, confirmed or not; captured rows (idb-captures.ts) travel in the same
// batches. Each call is one transaction.

import type { TelemetryWindow } from '@edgefleet/protocol';
import type { AgentStore, CaptureDrops, OutboxBatch, PredictionRecord } from '@edgefleet/agent/core';
import { META, request, type Run } from './idb.js';
import { CAPTURES, capturesOfBatch, capturesWaiting, deleteBatchCaptures, fillCaptures } from './idb-captures.js';

export const OUTBOX = 'outbox';
export const BATCHES = 'batches';
export const PREDICTIONS = 'predictions';

/** One queued window; `batch` 0 = not in a batch yet (seqs start at 1; IndexedDB cannot index null). */
interface OutboxRow {
  id?: number;
  batch: number;
  bytes: number;
  body: string;
}

interface BatchRow {
  seq: number;
  dropped: number;
  /** When the broker acknowledged it (epoch ms); null: not sent yet. */
  sentAt: number | null;
  /** Capture drops this batch reports (design §4 capture), the same on every resend. */
  capDrops?: CaptureDrops;
}

interface PredictionRow {
  n?: number;
  model: string;
  id: string;
  record: PredictionRecord;
}

/** Creates the object stores of this file (version 1 of the schema). */
export function createOutboxStores(db: IDBDatabase): void {
  db.createObjectStore(OUTBOX, { keyPath: 'id', autoIncrement: true }).createIndex('batch', 'batch');
  db.createObjectStore(BATCHES, { keyPath: 'seq' });
  db.createObjectStore(PREDICTIONS, { keyPath: 'n', autoIncrement: true }).createIndex('key', ['model', 'id'], { unique: true });
}

const encoder = new TextEncoder();
const windowsOf = (rows: OutboxRow[]): TelemetryWindow[] => rows.map((r) => JSON.parse(r.body) as TelemetryWindow);

async function counter(meta: IDBObjectStore, key: string): Promise<number> {
  return ((await request(meta.get(key))) as number | undefined) ?? 0;
}

type OutboxPart = Pick<
  AgentStore,
  'outboxAppend' | 'outboxNext' | 'outboxAck' | 'outboxSent' | 'outboxConfirm' | 'outboxSize' | 'putPredictions' | 'getPrediction'
>;

export function createIdbOutbox(run: Run, maxPredictions: number): OutboxPart {
  return {
    outboxAppend: (windows, maxRows) =>
      run('queueing telemetry', [OUTBOX, META], 'readwrite', async (tx) => {
        const rows = tx.objectStore(OUTBOX);
        for (const w of windows) {
          const body = JSON.stringify(w);
          rows.add({ batch: 0, bytes: encoder.encode(body).length, body } satisfies OutboxRow);
        }
        const n = await request(rows.count());
        if (n <= maxRows) return 0;
        // design §5: bounded outbox, oldest dropped first; the count goes out with the next batch
        const excess = n - maxRows;
        for (const id of await request(rows.getAllKeys(null, excess))) rows.delete(id);
        const meta = tx.objectStore(META);
        meta.put((await counter(meta, 'outbox.dropped')) + excess, 'outbox.dropped');
        return excess;
      }),

    outboxNext: (maxWindows, maxBytes, resendSentBefore) =>
      run('batching telemetry', [OUTBOX, BATCHES, CAPTURES, META], 'readwrite', async (tx): Promise<OutboxBatch | null> => {
        const rows = tx.objectStore(OUTBOX);
        const byBatch = rows.index('batch');
        const batches = tx.objectStore(BATCHES);
        const meta = tx.objectStore(META);
        const cutoff = resendSentBefore ?? Number.MIN_SAFE_INTEGER;
        for (const b of (await request(batches.getAll())) as BatchRow[]) {
          if (b.sentAt !== null && b.sentAt >= cutoff) continue;
          const mine = (await request(byBatch.getAll(b.seq))) as OutboxRow[];
          const caps = await capturesOfBatch(tx, b.seq, b.capDrops);
          if (mine.length > 0 || b.dropped > 0 || caps.captures || caps.capturesDropped) {
            return { seq: b.seq, dropped: b.dropped, windows: windowsOf(mine), ...caps, ...(b.sentAt !== null ? { resent: true } : {}) };
          }
          batches.delete(b.seq); // its windows were dropped while it waited
        }
        const free = maxWindows > 0 ? ((await request(byBatch.getAll(0, maxWindows))) as OutboxRow[]) : [];
        const dropped = await counter(meta, 'outbox.dropped');
        if (free.length === 0 && dropped === 0 && !(await capturesWaiting(tx))) return null;
        const seq = (await counter(meta, 'outbox.seq')) + 1;
        meta.put(seq, 'outbox.seq');
        meta.put(0, 'outbox.dropped');
        const taken: OutboxRow[] = [];
        let bytes = 0;
        for (const [i, row] of free.entries()) {
          if (i > 0 && bytes + row.bytes > maxBytes) break;
          bytes += row.bytes;
          rows.put({ ...row, batch: seq });
          taken.push(row);
        }
        // captured rows ride in the bytes the windows left (design §4 capture)
        const capDrops = await fillCaptures(tx, seq, maxBytes - bytes);
        batches.add({ seq, dropped, sentAt: null, ...(capDrops ? { capDrops } : {}) } satisfies BatchRow);
        return { seq, dropped, windows: windowsOf(taken), ...(await capturesOfBatch(tx, seq, capDrops)) };
      }),

    outboxAck: (seq) =>
      run('acknowledging telemetry', [OUTBOX, BATCHES, CAPTURES, META], 'readwrite', async (tx) => {
        const rows = tx.objectStore(OUTBOX);
        for (const id of await request(rows.index('batch').getAllKeys(seq))) rows.delete(id);
        await deleteBatchCaptures(tx, seq);
        tx.objectStore(BATCHES).delete(seq);
      }),

    outboxSent: (seq, at) =>
      run('marking telemetry sent', [BATCHES], 'readwrite', async (tx) => {
        const batches = tx.objectStore(BATCHES);
        const b = (await request(batches.get(seq))) as BatchRow | undefined;
        if (b) batches.put({ ...b, sentAt: at } satisfies BatchRow);
      }),

    outboxConfirm: (ranges) =>
      run('confirming telemetry', [OUTBOX, BATCHES, CAPTURES, META], 'readwrite', async (tx) => {
        const rows = tx.objectStore(OUTBOX);
        const batches = tx.objectStore(BATCHES);
        let n = 0;
        for (const [from, to] of ranges) {
          // batch 0 marks windows in no batch: a range reaching below 1 must not take them
          const lo = Math.max(from, 1);
          if (!(lo <= to)) continue; // an empty (or NaN) range confirms nothing
          const range = IDBKeyRange.bound(lo, to);
          for (const id of await request(rows.index('batch').getAllKeys(range))) rows.delete(id);
          await deleteBatchCaptures(tx, range);
          n += await request(batches.count(range));
          batches.delete(range);
        }
        return n;
      }),

    outboxSize: () => run('counting telemetry', [OUTBOX], 'readonly', (tx) => request(tx.objectStore(OUTBOX).count())),

    putPredictions: (entries) =>
      run('saving predictions', [PREDICTIONS], 'readwrite', async (tx) => {
        const preds = tx.objectStore(PREDICTIONS);
        const byKey = preds.index('key');
        for (const [id, rec] of entries) {
          // a repeated id moves to the newest end, like the SQLite store's INSERT OR REPLACE
          const old = await request(byKey.getKey([rec.model, id]));
          if (old !== undefined) preds.delete(old);
          preds.add({ model: rec.model, id, record: { ...rec } } satisfies PredictionRow);
        }
        const newest = await request(preds.openKeyCursor(null, 'prev'));
        const last = newest ? Number(newest.primaryKey) : 0;
        if (last - maxPredictions >= 1) preds.delete(IDBKeyRange.upperBound(last - maxPredictions));
      }),

    getPrediction: (model, id) =>
      run('reading a prediction', [PREDICTIONS], 'readonly', async (tx) => {
        const row = (await request(tx.objectStore(PREDICTIONS).index('key').get([model, id]))) as PredictionRow | undefined;
        return row ? { ...row.record } : undefined;
      }),
  };
}
