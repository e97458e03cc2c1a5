// AgentStore on IndexedDB (design §5 "State", in a browser): JSON documents by key, artifacts by sha256 kept
// as one record per chunk (a 25 MB model is never one structured clone), resumable partial downloads, the
// telemetry outbox with its captured rows and the late-label index. Answers like the SQLite store (the agent's store contract
// suite runs on both). Every call is one transaction: a resolved write has committed, a rejected one
// (DISK_FULL when the origin's quota is full) left nothing behind.

import { EdgefleetError } from '@edgefleet/protocol';
import type { AgentStore } from '@edgefleet/agent/core';
import { asDiskFull, META, openDatabase, ownBytes, prefixRange, request, transact, type Run } from './idb.js';
import { createIdbOutbox, createOutboxStores } from './idb-outbox.js';
import { createCaptureStores, createIdbCaptures } from './idb-captures.js';

export interface IndexedDbStoreOptions {
  /** The database's name: one per device (one agent per device id, design §5). */
  name: string;
  /** Default: the global `indexedDB` (window or worker). */
  indexedDB?: IDBFactory;
  /** Default: `navigator.storage.estimate()`; freeBytes() is quota − usage, null when unknown. */
  estimate?: () => Promise<{ quota?: number; usage?: number }>;
  /** Late-label index entries kept (oldest deleted first). */
  maxPredictions?: number;
  /**
   * Chunk bytes written but not yet synced that are held in memory before `writeChunk` writes them out
   * on its own (still without their bits). Default 4 MiB.
   */
  maxPendingBytes?: number;
}

const VERSION = 2;
const KV = 'kv';
const ARTIFACTS = 'artifacts';
const PARTIALS = 'partials';
const CHUNKS = 'chunks';

/** A committed artifact: its bytes are the chunk records `[blob, offset]`. */
interface ArtifactRow {
  sha256: string;
  size: number;
  blob: number;
}

/** A download in progress: its layout, the persisted received-chunk bitmap and its chunk records' blob. */
interface PartialRow {
  sha256: string;
  size: number;
  chunks: number;
  bitmap: Uint8Array;
  blob: number;
}

/** Chunks written since the last sync, for one partial's blob. */
interface Pending {
  blob: number;
  size: number;
  writes: Map<number, Uint8Array>;
  bytes: number;
}

function upgrade(db: IDBDatabase, from: number): void {
  if (from < 1) {
    db.createObjectStore(KV);
    db.createObjectStore(META);
    db.createObjectStore(ARTIFACTS, { keyPath: 'sha256' });
    db.createObjectStore(PARTIALS, { keyPath: 'sha256' });
    db.createObjectStore(CHUNKS); // key [blob, offset] → Uint8Array
    createOutboxStores(db);
  }
  if (from < 2) createCaptureStores(db); // design §4 capture: a device from before capture gains its store
}

/** The chunk records of one blob laid out as bytes (a gap reads as zeros, like a sparse file). */
async function assemble(chunks: IDBObjectStore, blob: number, size: number, pending?: Map<number, Uint8Array>): Promise<Uint8Array> {
  const range = prefixRange(blob);
  const [keys, values] = await Promise.all([request(chunks.getAllKeys(range)), request(chunks.getAll(range))]);
  const out = new Uint8Array(size);
  for (const [i, key] of keys.entries()) out.set(values[i] as Uint8Array, (key as [number, number])[1]);
  for (const [offset, bytes] of pending ?? []) out.set(bytes, offset);
  return out;
}

const samePartial = (p: PartialRow, size: number, chunkCount: number): boolean => p.size === size && p.chunks === chunkCount;

export async function openIndexedDbStore(options: IndexedDbStoreOptions): Promise<AgentStore> {
  const factory = options.indexedDB ?? globalThis.indexedDB;
  if (!factory) throw new EdgefleetError('UNAVAILABLE', 'IndexedDB is not available here (a private window, or not a browser)');
  let db: IDBDatabase;
  try {
    db = await openDatabase(factory, options.name, VERSION, upgrade);
  } catch (err) {
    const full = asDiskFull('opening the agent store', err);
    throw full instanceof EdgefleetError ? full : new EdgefleetError('UNAVAILABLE', `cannot open IndexedDB ${options.name}: ${String(err)}`, { cause: err });
  }
  let closed = false;
  // another tab upgrading or deleting this database, or the browser clearing site data: stop here
  db.onversionchange = () => {
    closed = true;
    db.close();
  };
  db.onclose = () => {
    closed = true;
  };
  const maxPending = options.maxPendingBytes ?? 4 * 1024 * 1024;
  const estimate =
    options.estimate ?? (globalThis.navigator?.storage?.estimate ? () => globalThis.navigator.storage.estimate() : undefined);

  const refuseClosed = (): void => {
    if (closed) throw new EdgefleetError('UNAVAILABLE', 'the agent store is closed');
  };
  const run: Run = async (what, stores, mode, body) => {
    refuseClosed();
    try {
      return await transact(db, stores, mode, body);
    } catch (err) {
      throw asDiskFull(what, err);
    }
  };

  // Partial downloads: writes wait in memory (a cheap writeChunk), a sync writes them and then the bitmap
  // in one transaction. Every change to a partial runs in turn, so a sync never overtakes the write-out
  // of chunks whose writeChunk has resolved.
  const pending = new Map<string, Pending>();
  let turn: Promise<unknown> = Promise.resolve();
  const inTurn = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = turn.then(fn, fn);
    turn = next.catch(() => undefined);
    return next;
  };

  /** Queue a partial's pending chunks in `tx`; returns them, to put back if the transaction fails. */
  const writePending = (tx: IDBTransaction, sha256: string, blob: number): Pending | undefined => {
    const p = pending.get(sha256);
    if (!p || p.blob !== blob) return undefined;
    pending.delete(sha256);
    const chunks = tx.objectStore(CHUNKS);
    for (const [offset, bytes] of p.writes) chunks.put(bytes, [blob, offset]);
    return p;
  };
  /** A failed write-out: its chunks wait again (unless rewritten or dropped since). */
  const restore = (sha256: string, taken: Pending | undefined): void => {
    if (!taken) return;
    const now = pending.get(sha256);
    if (now && now.blob !== taken.blob) return;
    if (!now) {
      pending.set(sha256, taken);
      return;
    }
    for (const [offset, bytes] of taken.writes) {
      if (now.writes.has(offset)) continue;
      now.writes.set(offset, bytes);
      now.bytes += bytes.length;
    }
  };
  /** Run `body` with the partial's row and its pending chunks written first; put them back on failure. */
  const withPending = async <T>(what: string, sha256: string, stores: string[], body: (tx: IDBTransaction, row: PartialRow) => T | Promise<T>): Promise<T> => {
    let taken: Pending | undefined;
    try {
      return await run(what, [PARTIALS, CHUNKS, ...stores], 'readwrite', async (tx) => {
        const row = (await request(tx.objectStore(PARTIALS).get(sha256))) as PartialRow | undefined;
        if (!row) throw new Error(`no partial download of ${sha256}`);
        taken = writePending(tx, sha256, row.blob);
        return body(tx, row);
      });
    } catch (err) {
      restore(sha256, taken);
      throw err;
    }
  };

  const store: AgentStore = {
    get: <T>(key: string) =>
      run('reading state', [KV], 'readonly', async (tx) => {
        const v = (await request(tx.objectStore(KV).get(key))) as string | undefined;
        return v === undefined ? undefined : (JSON.parse(v) as T);
      }),
    put: (key, value) =>
      run(`saving ${key}`, [KV], 'readwrite', (tx) => {
        tx.objectStore(KV).put(JSON.stringify(value), key);
      }),
    delete: (key) =>
      run(`deleting ${key}`, [KV], 'readwrite', (tx) => {
        tx.objectStore(KV).delete(key);
      }),

    readArtifact: (sha256) =>
      run('reading a model', [ARTIFACTS, CHUNKS], 'readonly', async (tx) => {
        const row = (await request(tx.objectStore(ARTIFACTS).get(sha256))) as ArtifactRow | undefined;
        return row ? assemble(tx.objectStore(CHUNKS), row.blob, row.size) : null;
      }),
    hasArtifact: (sha256) =>
      run('reading a model', [ARTIFACTS], 'readonly', async (tx) => (await request(tx.objectStore(ARTIFACTS).count(sha256))) > 0),
    deleteArtifact: (sha256) =>
      run('deleting a model', [ARTIFACTS, CHUNKS], 'readwrite', async (tx) => {
        const row = (await request(tx.objectStore(ARTIFACTS).get(sha256))) as ArtifactRow | undefined;
        if (!row) return;
        tx.objectStore(CHUNKS).delete(prefixRange(row.blob));
        tx.objectStore(ARTIFACTS).delete(sha256);
      }),
    listArtifacts: () =>
      run('listing models', [ARTIFACTS], 'readonly', async (tx) => (await request(tx.objectStore(ARTIFACTS).getAllKeys())) as string[]),

    openPartial: (sha256, size, chunkCount) =>
      inTurn(() =>
        run('starting a download', [PARTIALS, CHUNKS, META], 'readwrite', async (tx) => {
          const partials = tx.objectStore(PARTIALS);
          const row = (await request(partials.get(sha256))) as PartialRow | undefined;
          if (row && samePartial(row, size, chunkCount)) return row.bitmap.slice();
          // another layout (or none): start from nothing, under a new blob
          if (row) tx.objectStore(CHUNKS).delete(prefixRange(row.blob));
          pending.delete(sha256);
          const meta = tx.objectStore(META);
          const blob = (((await request(meta.get('blob.next'))) as number | undefined) ?? 1) as number;
          meta.put(blob + 1, 'blob.next');
          const bitmap = new Uint8Array(Math.ceil(chunkCount / 8));
          partials.put({ sha256, size, chunks: chunkCount, bitmap, blob } satisfies PartialRow);
          return bitmap.slice();
        }),
      ),
    peekPartial: (sha256, size, chunkCount) =>
      run('reading download progress', [PARTIALS], 'readonly', async (tx) => {
        const row = (await request(tx.objectStore(PARTIALS).get(sha256))) as PartialRow | undefined;
        return row && samePartial(row, size, chunkCount) ? row.bitmap.slice() : null;
      }),
    writeChunk: (sha256, offset, bytes) =>
      inTurn(async () => {
        refuseClosed();
        let p = pending.get(sha256);
        if (!p) {
          const row = await run('writing a chunk', [PARTIALS], 'readonly', (tx) => request(tx.objectStore(PARTIALS).get(sha256)) as Promise<PartialRow | undefined>);
          if (!row) throw new Error(`no partial download of ${sha256}`);
          p = { blob: row.blob, size: row.size, writes: new Map(), bytes: 0 };
          pending.set(sha256, p);
        }
        if (!Number.isSafeInteger(offset) || offset < 0 || offset + bytes.length > p.size) {
          throw new RangeError(`chunk at ${offset} (${bytes.length} bytes) is outside the ${p.size}-byte download`);
        }
        const old = p.writes.get(offset);
        p.writes.set(offset, ownBytes(bytes));
        p.bytes += bytes.length - (old?.length ?? 0);
        // too much held: written out now, still without bits (bytes without a bit are only fetched again)
        if (p.bytes > maxPending) await withPending(`writing ${sha256.slice(0, 12)}…`, sha256, [], () => undefined);
      }),
    syncPartial: (sha256, bitmap) =>
      inTurn(async () => {
        // design §5 resumable: the chunks, then the bits that name them, in one transaction
        const copy = bitmap.slice();
        await withPending('saving download progress', sha256, [], (tx, row) => {
          tx.objectStore(PARTIALS).put({ ...row, bitmap: copy } satisfies PartialRow);
        }).catch((err: unknown) => {
          // like the memory and SQLite stores: syncing a download that is gone does nothing
          if (err instanceof Error && err.message.startsWith('no partial download')) return;
          throw err;
        });
      }),
    readPartial: (sha256) =>
      inTurn(() =>
        run('reading a download', [PARTIALS, CHUNKS], 'readonly', async (tx) => {
          const row = (await request(tx.objectStore(PARTIALS).get(sha256))) as PartialRow | undefined;
          if (!row) throw new Error(`no partial download of ${sha256}`);
          const p = pending.get(sha256);
          return assemble(tx.objectStore(CHUNKS), row.blob, row.size, p?.blob === row.blob ? p.writes : undefined);
        }),
      ),
    commitPartial: (sha256) =>
      inTurn(() =>
        // one transaction: the last chunks, the artifact row, the partial row gone (the rename of the files)
        withPending('committing a download', sha256, [ARTIFACTS], async (tx, row) => {
          const artifacts = tx.objectStore(ARTIFACTS);
          const old = (await request(artifacts.get(sha256))) as ArtifactRow | undefined;
          if (old && old.blob !== row.blob) tx.objectStore(CHUNKS).delete(prefixRange(old.blob));
          artifacts.put({ sha256, size: row.size, blob: row.blob } satisfies ArtifactRow);
          tx.objectStore(PARTIALS).delete(sha256);
        }),
      ),
    discardPartial: (sha256) =>
      inTurn(async () => {
        pending.delete(sha256);
        await run('discarding a download', [PARTIALS, CHUNKS], 'readwrite', async (tx) => {
          const row = (await request(tx.objectStore(PARTIALS).get(sha256))) as PartialRow | undefined;
          if (!row) return;
          tx.objectStore(CHUNKS).delete(prefixRange(row.blob));
          tx.objectStore(PARTIALS).delete(sha256);
        });
      }),
    listPartials: () =>
      run('listing downloads', [PARTIALS], 'readonly', async (tx) => (await request(tx.objectStore(PARTIALS).getAllKeys())) as string[]),
    async freeBytes() {
      if (!estimate) return null;
      try {
        const { quota, usage } = await estimate();
        return typeof quota === 'number' && typeof usage === 'number' && Number.isFinite(quota - usage) ? Math.max(0, quota - usage) : null;
      } catch {
        return null;
      }
    },

    ...createIdbOutbox(run, options.maxPredictions ?? 100_000),
    ...createIdbCaptures(run),

    async close() {
      if (closed) return;
      closed = true;
      // chunks not yet synced are dropped, as a kill would: their bits were never persisted
      pending.clear();
      await turn;
      db.close();
    },
  };
  return store;
}
