// The captured-row part of the browser outbox (design §4 capture), answering like the SQLite store's
// sqlite-captures.ts: rows wait in `captures` until a batch takes them (same seq on every resend), under a
// byte disk budget (oldest dropped first); drops wait in meta `capture.drops` until the next new batch, which
// keeps them on its batch row for its resends. Meta `capture.bytes` is the rows' total, kept in the same
// transactions that add or delete rows, so the budget is checked without reading every row.

import { CAPTURE_LIMITS, type Capture } from '@edgefleet/protocol';
import type { AgentStore, CaptureDrops, OutboxBatch } from '@edgefleet/agent/core';
import { META, request, type Run } from './idb.js';

export const CAPTURES = 'captures';

/** One captured row; `batch` 0 = not in a batch yet (IndexedDB cannot index null). */
interface CaptureRow {
  id?: number;
  batch: number;
  bytes: number;
  body: string;
}

const NO_DROPS: CaptureDrops = { quota: 0, disk: 0, oversized: 0 };
const encoder = new TextEncoder();

const anyDrops = (d: CaptureDrops | undefined): d is CaptureDrops => d !== undefined && d.quota + d.disk + d.oversized > 0;

/** Creates the object store of this file (version 2 of the schema). */
export function createCaptureStores(db: IDBDatabase): void {
  db.createObjectStore(CAPTURES, { keyPath: 'id', autoIncrement: true }).createIndex('batch', 'batch');
}

async function readMeta<T>(meta: IDBObjectStore, key: string, fallback: T): Promise<T> {
  return ((await request(meta.get(key))) as T | undefined) ?? fallback;
}

/** Delete rows (already read) and lower the byte total by theirs. */
async function deleteRows(tx: IDBTransaction, rows: CaptureRow[]): Promise<void> {
  if (rows.length === 0) return;
  const store = tx.objectStore(CAPTURES);
  const meta = tx.objectStore(META);
  let bytes = 0;
  for (const r of rows) {
    store.delete(r.id!);
    bytes += r.bytes;
  }
  meta.put(Math.max(0, (await readMeta(meta, 'capture.bytes', 0)) - bytes), 'capture.bytes');
}

/** The captures part of batch `seq` as it was made (`drops`: what its batch row keeps). */
export async function capturesOfBatch(tx: IDBTransaction, seq: number, drops: CaptureDrops | undefined): Promise<Pick<OutboxBatch, 'captures' | 'capturesDropped'>> {
  const rows = (await request(tx.objectStore(CAPTURES).index('batch').getAll(seq))) as CaptureRow[];
  return { ...(rows.length > 0 ? { captures: rows.map((r) => JSON.parse(r.body) as Capture) } : {}), ...(anyDrops(drops) ? { capturesDropped: drops } : {}) };
}

/** Whether a new batch has captured rows or drops to carry. */
export async function capturesWaiting(tx: IDBTransaction): Promise<boolean> {
  if ((await request(tx.objectStore(CAPTURES).index('batch').count(0))) > 0) return true;
  return anyDrops(await readMeta<CaptureDrops | undefined>(tx.objectStore(META), 'capture.drops', undefined));
}

/** Puts unsent rows into new batch `seq` while they fit in `bytesLeft`; returns the pending drops it takes. */
export async function fillCaptures(tx: IDBTransaction, seq: number, bytesLeft: number): Promise<CaptureDrops | undefined> {
  const store = tx.objectStore(CAPTURES);
  let bytes = 0;
  for (const row of (await request(store.index('batch').getAll(0, CAPTURE_LIMITS.rowsPerBatch))) as CaptureRow[]) {
    if (bytes + row.bytes > bytesLeft) break;
    bytes += row.bytes;
    store.put({ ...row, batch: seq } satisfies CaptureRow);
  }
  const meta = tx.objectStore(META);
  const drops = await readMeta<CaptureDrops | undefined>(meta, 'capture.drops', undefined);
  if (!anyDrops(drops)) return undefined;
  meta.delete('capture.drops');
  return drops;
}

/** Deletes the rows of the batches in `range` (a seq, or a key range of seqs). */
export async function deleteBatchCaptures(tx: IDBTransaction, range: number | IDBKeyRange): Promise<void> {
  await deleteRows(tx, (await request(tx.objectStore(CAPTURES).index('batch').getAll(range))) as CaptureRow[]);
}

export function createIdbCaptures(run: Run): Required<Pick<AgentStore, 'captureAppend' | 'captureSize'>> {
  return {
    captureAppend: (rows, maxBytes, drops) =>
      run('queueing captured rows', [CAPTURES, META], 'readwrite', async (tx) => {
        const store = tx.objectStore(CAPTURES);
        const meta = tx.objectStore(META);
        let total = await readMeta(meta, 'capture.bytes', 0);
        for (const r of rows) {
          const body = JSON.stringify(r);
          const bytes = encoder.encode(body).length;
          store.add({ batch: 0, bytes, body } satisfies CaptureRow);
          total += bytes;
        }
        meta.put(total, 'capture.bytes');
        // design §4 capture: the disk budget holds, oldest rows dropped first (sent or not: 0 empties it)
        let dropped = 0;
        while (total > maxBytes) {
          const oldest = (await request(store.getAll(null, 256))) as CaptureRow[];
          if (oldest.length === 0) break;
          const gone: CaptureRow[] = [];
          for (const r of oldest) {
            if (total <= maxBytes) break;
            gone.push(r);
            total -= r.bytes;
          }
          await deleteRows(tx, gone);
          dropped += gone.length;
        }
        if (dropped + drops.quota + drops.oversized > 0) {
          const d = await readMeta(meta, 'capture.drops', NO_DROPS);
          meta.put({ quota: d.quota + drops.quota, disk: d.disk + dropped, oversized: d.oversized + drops.oversized } satisfies CaptureDrops, 'capture.drops');
        }
        return dropped;
      }),

    captureSize: () =>
      run('counting captured rows', [CAPTURES, META], 'readonly', async (tx) => ({
        rows: await request(tx.objectStore(CAPTURES).count()),
        bytes: await readMeta(tx.objectStore(META), 'capture.bytes', 0),
      })),
  };
}
